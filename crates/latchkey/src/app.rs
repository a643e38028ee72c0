//! Start-up: open storage, resolve the master key, make sure a signing key
//! exists, render the discovery document, bind (the public address, and
//! `metrics.bind` when configured), and serve until shutdown. The CLI's
//! storage commands share [`open_store`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::accounts::password::Passwords;
use crate::config::{Config, seconds};
use crate::demo;
use crate::http::{self, AppState};
use crate::keys::{self, KeyError, Keys, MasterKeyError};
use crate::metrics::{Metrics, ScrapeSource};
use crate::oauth::client_id_metadata::UrlClients;
use crate::oauth::discovery::ServerMetadata;
use crate::secret::MasterKey;
use crate::store::{self, Store, StoreError};
use crate::unix_now;

/// Why the server could not start; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot set up fetching client metadata documents: {0}")]
    Outbound(String),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens (and migrates) the configured database and resolves the master key.
pub async fn open_store(config: &Config) -> Result<(Arc<dyn Store>, MasterKey), StartError> {
    let store = store::open(&config.database).await?;
    let master = keys::resolve_master_key(&config.master_key)?;
    Ok((store, master))
}

/// A server ready to run: storage open, keys loaded, sockets bound.
pub struct App {
    listener: TcpListener,
    /// The separate address of `GET /metrics`, when configured.
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

/// What the metrics read at scrape time.
struct Gauges {
    store: Arc<dyn Store>,
    passwords: Arc<Passwords>,
}

impl ScrapeSource for Gauges {
    fn pool_connections(&self) -> (u64, u64) {
        self.store.pool_connections()
    }

    fn password_rejections(&self) -> u64 {
        self.passwords.rejections()
    }
}

impl App {
    /// Builds the server and binds `config.bind`.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the server on an already bound socket (tests bind port 0).
    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        let metrics_listener = match config.metrics.bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        let (store, master) = open_store(&config).await?;
        let algs = keys::algs_in_use(store.as_ref(), &config).await?;
        for record in keys::ensure_signing_keys(store.as_ref(), &master, &algs, unix_now()).await? {
            tracing::info!(kid = %record.kid, alg = %record.alg, "generated a signing key");
        }
        let form_key = Arc::new(crate::secret::FormKey::new(&master));
        let keys = Arc::new(Keys::load(store.as_ref(), master).await?);
        let metadata_algs: Arc<[keys::Alg]> = keys.ring().algs().into();
        let metadata = serde_json::to_vec(&ServerMetadata::from_config(&config, &metadata_algs))
            .map_err(|e| StartError::Store(StoreError::Backend(Box::new(e))))?;
        let policy = latchkey_verify::Policy {
            issuer: config.issuer.clone(),
            // RFC 8707: the example API (and userinfo) take tokens for the
            // example API's resource, the default audience.
            audience: Some(config.resources.api().identifier.clone()),
            tenant_claim: config.claims.tenant_id.clone(),
            leeway_seconds: seconds(config.tokens.leeway),
            api_key_prefix: config.prefixes.api_key.clone(),
        };
        let authority = crate::grants::authority::StoreAuthority {
            store: Arc::clone(&store),
            keys: Arc::clone(&keys),
        };
        let guard = Arc::new(latchkey_verify::Guard::new(policy, Arc::new(authority)));
        let rate_limiter = Arc::new(crate::http::rate_limit::RateLimiter::new(
            config.rate_limits.clone(),
        ));
        let passwords = Arc::new(Passwords::start(config.passwords.workers, config.passwords.queue));
        let url_clients = Arc::new(UrlClients::new(&config).map_err(StartError::Outbound)?);
        let metrics = Arc::new(Metrics::new(Arc::new(Gauges {
            store: Arc::clone(&store),
            passwords: Arc::clone(&passwords),
        })));
        let mailer = match &config.smtp {
            Some(smtp) => {
                let host = url::Url::parse(&config.issuer)
                    .ok()
                    .and_then(|issuer| issuer.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".to_owned());
                Some(crate::mail::Mailer::new(smtp, &host)?)
            }
            None => None,
        };
        let relying_party = crate::accounts::passkeys::relying_party(&config).map(Arc::new);
        let state = AppState {
            relying_party,
            config: Arc::new(config),
            store,
            keys,
            metadata: metadata.into(),
            metadata_algs,
            login_throttle: Arc::default(),
            reset_throttle: Arc::new(crate::accounts::throttle::LoginThrottle::with_limits(
                crate::accounts::throttle::RESET_REQUESTS,
            )),
            second_factor_throttle: Arc::default(),
            passwords,
            form_key,
            rate_limiter,
            guard,
            metrics,
            url_clients,
            demo: None,
            mailer,
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address `GET /metrics` is served on, when configured.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics_listener.as_ref().map(TcpListener::local_addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// `serve --demo`: seeds the demo data and serves the demo app's
    /// callback page, where the printed authorization URL ends.
    pub async fn enable_demo(&mut self, now: i64) -> Result<demo::DemoCredentials, demo::DemoError> {
        let state = &self.state;
        let credentials = demo::seed(state.store.as_ref(), &state.config, state.keys.master(), now).await?;
        self.state.demo = Some(Arc::new(credentials.client.clone()));
        Ok(credentials)
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let reload = tokio::spawn(reload_keys(self.state.clone()));
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let router = http::router(self.state.clone());
        let server = &self.state.config.server;
        let limits = http::listener::Limits {
            max_connections: server.max_connections,
            header_timeout: server.header_timeout,
        };
        // One shutdown signal, heard by both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let metrics_server = self.metrics_listener.map(|listener| {
            let router = http::metrics::router(Arc::clone(&self.state.metrics));
            let limits = http::listener::Limits {
                max_connections: METRICS_MAX_CONNECTIONS,
                header_timeout: limits.header_timeout,
            };
            tokio::spawn(http::listener::serve(
                listener,
                router,
                limits,
                stopped_signal(stopped.clone()),
            ))
        });
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let result = http::listener::serve(self.listener, router, limits, signal).await;
        if let Some(metrics_server) = metrics_server
            && let Ok(Err(error)) = metrics_server.await
        {
            tracing::warn!(%error, "the metrics listener failed");
        }
        reload.abort();
        housekeeping.abort();
        result
    }
}

/// Connections the metrics address serves at once: scrapers, not the public.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// Completes once `stopped` says so (or its sender is gone).
async fn stopped_signal(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// Re-reads the signing keys periodically, so keys rotated elsewhere are
/// published (and start signing on time) on this instance too.
async fn reload_keys(state: AppState) {
    let mut interval = tokio::time::interval(state.config.signing.reload_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        if let Err(error) = state.keys.reload(state.store.as_ref()).await {
            tracing::warn!(%error, "reloading signing keys failed; keeping the current ones");
        }
    }
}

/// Purges expired codes, tokens, sessions, passkey ceremonies, old audit
/// events and client registrations never used periodically, so tables do not grow without
/// bound.
async fn housekeeping(state: AppState) {
    let config = &state.config;
    let mut interval = tokio::time::interval(config.housekeeping.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = unix_now();
        let grant_cutoff = now.saturating_sub(config.tokens.longest_token_lifetime());
        let retention = seconds(config.housekeeping.audit_retention);
        match state
            .store
            .purge_expired(now, grant_cutoff, now.saturating_sub(retention))
            .await
        {
            Ok(counts) => tracing::debug!(?counts, "housekeeping done"),
            Err(error) => tracing::warn!(%error, "housekeeping failed; will retry"),
        }
        match state.store.purge_passkey_ceremonies(now).await {
            Ok(purged) => tracing::debug!(purged, "expired passkey ceremonies purged"),
            Err(error) => tracing::warn!(%error, "purging passkey ceremonies failed; will retry"),
        }
        match crate::clients::registration::purge_unused(state.store.as_ref(), config, now).await {
            Ok(purged) => tracing::debug!(purged, "unused client registrations purged"),
            Err(error) => tracing::warn!(%error, "purging unused client registrations failed; will retry"),
        }
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are in place when this
/// returns, before the future is first awaited: a server that has said it
/// is listening stops gracefully on a signal that comes at once.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    };
    async move {
        #[cfg(unix)]
        {
            let received = |listener: std::io::Result<tokio::signal::unix::Signal>| async move {
                match listener {
                    Ok(mut listener) => {
                        listener.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}
