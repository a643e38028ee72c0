//! Clients known by URL at the authorization and token endpoints
//! (draft-ietf-oauth-client-id-metadata-document, MCP's preferred client
//! registration): when `oauth.client_id_metadata_documents` is on, an
//! https `client_id` is looked up in storage, and its metadata document is
//! fetched when it is not stored yet or its stored copy expired; a good
//! document is stored as the client (see [`crate::clients::metadata_document`]
//! for what makes one good), a bad one or a failed fetch refuses the
//! request and stores nothing.
//!
//! An unauthenticated request can name any URL, so the work is bounded: at
//! most [`CONCURRENT_FETCHES`] fetches run at once (a request waits no longer
//! than a fetch may take, then is told to retry); concurrent requests for
//! one URL share one fetch; a refused URL is answered from memory for
//! [`REFUSAL_MEMORY_SECONDS`] without fetching again (at most
//! [`MAX_REMEMBERED_REFUSALS`] of them); each fetch is bounded in time and
//! size by [`crate::outbound`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OnceCell, Semaphore};

use super::authorize::UNREGISTERED_REDIRECT_URI;
use super::error::{ErrorCode, OAuthError};
use crate::clients::metadata_document::{self, ClientIdUrl};
use crate::config::Config;
use crate::outbound::{FetchLimits, Fetcher};
use crate::store::{ClientDocumentRecord, ClientRecord, Store, StoreError};

/// Fetches of metadata documents running at once, over every URL.
pub const CONCURRENT_FETCHES: usize = 4;
/// How long a refused URL is refused again without fetching.
pub const REFUSAL_MEMORY_SECONDS: i64 = 10;
/// The most refused URLs remembered at once.
pub const MAX_REMEMBERED_REFUSALS: usize = 4096;

/// A failure several waiting requests share.
#[derive(Debug, Clone)]
struct Failure {
    code: ErrorCode,
    description: String,
    cause: Option<String>,
    /// A refusal of the URL or its document (remembered), rather than a
    /// busy server (not remembered).
    refusal: bool,
}

impl Failure {
    fn refused(description: String) -> Self {
        Self {
            code: ErrorCode::InvalidClient,
            description,
            cause: None,
            refusal: true,
        }
    }

    fn into_error(self) -> OAuthError {
        OAuthError {
            code: self.code,
            description: self.description,
            cause: self.cause,
        }
    }
}

/// A fetched document judged good: the client it describes and when to
/// fetch it again; not stored yet.
#[derive(Debug, Clone)]
struct Judged {
    client: ClientRecord,
    document: ClientDocumentRecord,
}

type Outcome = Result<Judged, Failure>;

/// The resolver of URL client ids; one per server.
#[derive(Debug)]
pub struct UrlClients {
    /// `None` when the feature is off.
    fetcher: Option<Fetcher>,
    permits: Semaphore,
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>,
    /// URL → (refused until, why).
    refused: Mutex<HashMap<String, (i64, Failure)>>,
}

impl UrlClients {
    pub fn new(config: &Config) -> Result<Self, String> {
        let policy = &config.oauth.client_id_metadata;
        let fetcher = if policy.enabled {
            Some(Fetcher::new(FetchLimits {
                timeout: policy.timeout,
                max_bytes: policy.max_bytes,
                allow_loopback: policy.allow_loopback,
            })?)
        } else {
            None
        };
        Ok(Self {
            fetcher,
            permits: Semaphore::new(CONCURRENT_FETCHES),
            in_flight: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        })
    }

    /// The client `client_id` names at the authorization endpoint; `None`
    /// when there is none. A URL id, with the feature on, is judged by the
    /// URL rules and the blocked hosts, then read from storage; its
    /// document is fetched when it is not stored or expired (not for a
    /// disabled client), and stored only when it is good and lists the
    /// request's `redirect_uri` (or the request omits it and the document
    /// lists one). With the feature off a URL id names no client.
    /// Refusals of the document are `invalid_client`, saying what is wrong.
    pub async fn find(
        &self,
        store: &dyn Store,
        config: &Config,
        client_id: &str,
        redirect_uri: Option<&str>,
        now: i64,
    ) -> Result<Option<ClientRecord>, OAuthError> {
        if !metadata_document::is_url(client_id) {
            return Ok(store.find_client(client_id).await?);
        }
        let policy = &config.oauth.client_id_metadata;
        if !policy.enabled {
            return Ok(None);
        }
        let url = ClientIdUrl::parse(client_id, policy.allow_loopback).map_err(OAuthError::invalid_client)?;
        check_host(config, &url)?;
        if let Some(client) = store.find_client(client_id).await? {
            match store.find_client_document(client_id).await? {
                // Registered under this URL by the operator: no document.
                None => return Ok(Some(client)),
                Some(document) if document.expires_at > now || !client.enabled => {
                    return Ok(Some(client));
                }
                Some(_) => {}
            }
        }
        let judged = self.judge(config, url, now).await?;
        check_redirect_uri(&judged.client, redirect_uri)?;
        save(store, &judged).await.map(Some)
    }

    /// At the token endpoint, before the client authenticates: a client
    /// registered by a document whose stored copy expired has it fetched
    /// again (refused, the client cannot authenticate). Anything else is
    /// left to client authentication.
    pub async fn refresh_expired(
        &self,
        store: &dyn Store,
        config: &Config,
        client_id: &str,
        now: i64,
    ) -> Result<(), OAuthError> {
        let policy = &config.oauth.client_id_metadata;
        if !policy.enabled || !metadata_document::is_url(client_id) {
            return Ok(());
        }
        let Ok(url) = ClientIdUrl::parse(client_id, policy.allow_loopback) else {
            return Ok(());
        };
        check_host(config, &url)?;
        match store.find_client_document(client_id).await? {
            Some(document) if document.expires_at <= now => {
                let judged = self.judge(config, url, now).await?;
                save(store, &judged).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Fetches and judges the document of `url`, sharing the work with
    /// concurrent requests for it; a refusal is remembered briefly.
    async fn judge(&self, config: &Config, url: ClientIdUrl, now: i64) -> Result<Judged, OAuthError> {
        let key = url.as_str().to_owned();
        if let Some(failure) = self.remembered_refusal(&key, now) {
            return Err(failure.into_error());
        }
        let cell = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(in_flight.entry(key.clone()).or_default())
        };
        let outcome = cell
            .get_or_init(|| self.fetch_once(config, &url, now))
            .await
            .clone();
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            if in_flight
                .get(&key)
                .is_some_and(|current| Arc::ptr_eq(current, &cell))
            {
                in_flight.remove(&key);
            }
        }
        outcome.map_err(|failure| {
            if failure.refusal {
                self.remember_refusal(&key, &failure, now);
            }
            failure.into_error()
        })
    }

    async fn fetch_once(&self, config: &Config, url: &ClientIdUrl, now: i64) -> Outcome {
        let client_id = url.as_str();
        let Some(fetcher) = &self.fetcher else {
            return Err(Failure::refused(
                "client metadata documents are not accepted by this server".into(),
            ));
        };
        let fetched = {
            let permit = tokio::time::timeout(fetcher.limits().timeout, self.permits.acquire()).await;
            let Ok(Ok(_permit)) = permit else {
                return Err(Failure {
                    code: ErrorCode::TemporarilyUnavailable,
                    description:
                        "too many client metadata documents are being fetched; retry in a few seconds".into(),
                    cause: None,
                    refusal: false,
                });
            };
            fetcher.get_json(url.url()).await.map_err(|error| {
                Failure::refused(format!(
                    "the client metadata document at {client_id} could not be fetched: {error}"
                ))
            })?
        };
        let client =
            metadata_document::client_from_document(config, url, &fetched.body, now).map_err(|problem| {
                Failure::refused(format!("the client metadata document at {client_id} {problem}"))
            })?;
        let lifetime = metadata_document::cache_lifetime(&config.oauth.client_id_metadata, fetched.max_age);
        let document = ClientDocumentRecord {
            fetched_at: now,
            expires_at: now.saturating_add(lifetime),
        };
        Ok(Judged { client, document })
    }

    fn remembered_refusal(&self, key: &str, now: i64) -> Option<Failure> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, failure)| failure.clone())
    }

    fn remember_refusal(&self, key: &str, failure: &Failure, now: i64) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= MAX_REMEMBERED_REFUSALS {
            refused.retain(|_, (until, _)| *until > now);
        }
        if refused.len() < MAX_REMEMBERED_REFUSALS {
            refused.insert(key.to_owned(), (now + REFUSAL_MEMORY_SECONDS, failure.clone()));
        }
    }
}

/// Stores a judged document and returns the stored client (whose
/// `enabled` and `created_at` a refresh keeps).
async fn save(store: &dyn Store, judged: &Judged) -> Result<ClientRecord, OAuthError> {
    match store.save_client_document(&judged.client, &judged.document).await {
        // `false`: registered otherwise; `Conflict`: another instance
        // stored it just now. Either way the stored client stands.
        Ok(_) | Err(StoreError::Conflict) => {}
        Err(error) => return Err(error.into()),
    }
    store
        .find_client(&judged.client.client_id)
        .await?
        .ok_or_else(|| OAuthError::server_error("the client just stored is missing"))
}

/// RFC 9700 §4.1.3 before anything is stored: the request's redirect URI
/// must be one the document lists, exactly (or, omitted, the only one).
fn check_redirect_uri(client: &ClientRecord, redirect_uri: Option<&str>) -> Result<(), OAuthError> {
    match redirect_uri {
        Some(uri) if client.redirect_uris.iter().any(|listed| listed == uri) => Ok(()),
        None if client.redirect_uris.len() == 1 => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "{UNREGISTERED_REDIRECT_URI}: it is not among the redirect_uris of the client's metadata document"
        ))),
        None => Err(OAuthError::invalid_request(
            "redirect_uri is required: the client's metadata document lists several",
        )),
    }
}

/// The operator's blocked hosts (`oauth.client_id_metadata_blocked_hosts`).
fn check_host(config: &Config, url: &ClientIdUrl) -> Result<(), OAuthError> {
    let host = url.host();
    if config.oauth.client_id_metadata.is_blocked(&host) {
        return Err(OAuthError::invalid_client(format!(
            "client_id host `{host}` is blocked on this server"
        )));
    }
    Ok(())
}
