//! The server's metrics and their Prometheus text: HTTP requests per route
//! and status (a counter and a latency histogram), tokens issued per grant
//! type, replayed codes and refresh tokens, and — read when scraped — the
//! database pool and the password workers' refusals. It owns the names and
//! the label sets; `http` times the requests and serves the text on the
//! separate `metrics.bind` address, the grants count what they issue.
//!
//! Recording is on every request's path, so it is cheap: a route's series
//! are looked up once by the matched route pattern (a bounded set: the
//! router's routes and `unmatched`) and kept, and each request then costs a
//! read lock, one hash of the pattern and a few atomic operations — no
//! allocation after a series' first request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the text [`Metrics::encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Arc<String>,
    status: u16,
}

/// The grant types the token endpoint issues tokens for.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// One route and status's series, shared with the registry's families.
#[derive(Debug, Clone)]
struct Series {
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// What is read only when scraped: the database pool and the password
/// workers, as the process holds them.
pub trait ScrapeSource: Send + Sync + 'static {
    /// Connections in the database pool, open and idle.
    fn pool_connections(&self) -> (u64, u64);
    /// Password checks refused because every worker and queue place was busy.
    fn password_rejections(&self) -> u64;
}

/// Every metric of the server, with the registry that writes them out.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    /// Per route pattern, the series of each status seen so far.
    series: RwLock<HashMap<String, Vec<Series>>>,
    tokens_issued: Family<GrantLabels, Counter>,
    refresh_replays: Counter,
    code_replays: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics, with `source` read at every scrape.
    pub fn new(source: Arc<dyn ScrapeSource>) -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            requests.clone(),
        );
        let durations: HistogramFamily = Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by route pattern and status",
            durations.clone(),
        );
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        // Every grant type's series exists from the start, at 0.
        for grant_type in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ] {
            tokens_issued.get_or_create_owned(&GrantLabels {
                grant_type: grant_type.as_str(),
            });
        }
        registry.register(
            "tokens_issued",
            "Token responses issued by the token endpoint, by grant type",
            tokens_issued.clone(),
        );
        let refresh_replays = Counter::default();
        registry.register(
            "refresh_token_replays",
            "Rotated refresh tokens presented again outside the grace window (the grant is revoked)",
            refresh_replays.clone(),
        );
        let code_replays = Counter::default();
        registry.register(
            "authorization_code_replays",
            "Authorization codes presented a second time (the grant is revoked)",
            code_replays.clone(),
        );
        registry.register_collector(Box::new(Scraped(source)));
        Self {
            registry,
            requests,
            durations,
            series: RwLock::default(),
            tokens_issued,
            refresh_replays,
            code_replays,
        }
    }

    /// Counts and times one answered request. `route` is the matched route
    /// pattern (never the raw path), or [`UNMATCHED`].
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Ok(series) = self.series.read()
            && let Some(found) = series
                .get(route)
                .and_then(|statuses| statuses.iter().find(|s| s.status == status))
        {
            found.requests.inc();
            found.duration.observe(seconds);
            return;
        }
        let found = self.add_series(route, status);
        found.requests.inc();
        found.duration.observe(seconds);
    }

    /// The series of a route and status seen for the first time.
    fn add_series(&self, route: &str, status: u16) -> Series {
        let labels = RequestLabels {
            route: Arc::new(route.to_owned()),
            status,
        };
        let series = Series {
            status,
            requests: self.requests.get_or_create_owned(&labels),
            duration: self.durations.get_or_create_owned(&labels),
        };
        if let Ok(mut known) = self.series.write() {
            let statuses = known.entry(route.to_owned()).or_default();
            if !statuses.iter().any(|s| s.status == status) {
                statuses.push(series.clone());
            }
        }
        series
    }

    /// Counts a token response issued for `grant_type`.
    pub fn token_issued(&self, grant_type: GrantType) {
        self.tokens_issued
            .get_or_create(&GrantLabels {
                grant_type: grant_type.as_str(),
            })
            .inc();
    }

    /// Counts a refresh token presented again outside its grace window.
    pub fn refresh_token_replayed(&self) {
        self.refresh_replays.inc();
    }

    /// Counts an authorization code presented a second time.
    pub fn authorization_code_replayed(&self) {
        self.code_replays.inc();
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The values read at scrape time.
struct Scraped(Arc<dyn ScrapeSource>);

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scraped")
    }
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (size, idle) = self.0.pool_connections();
        let gauges = [
            (
                "db_pool_connections",
                "Connections open in the database pool.",
                size,
            ),
            (
                "db_pool_idle_connections",
                "Open database connections not in use.",
                idle,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let rejections = ConstCounter::new(self.0.password_rejections());
        rejections.encode(encoder.encode_descriptor(
            "password_checks_rejected",
            "Password hashes and checks refused at once because every worker and queue place was busy.",
            None,
            rejections.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl ScrapeSource for Fixed {
        fn pool_connections(&self) -> (u64, u64) {
            (3, 2)
        }
        fn password_rejections(&self) -> u64 {
            7
        }
    }

    #[test]
    fn the_text_names_every_metric_with_its_labels() {
        let metrics = Metrics::new(Arc::new(Fixed));
        metrics.request("/token", 200, Duration::from_millis(3));
        metrics.request("/token", 200, Duration::from_millis(30));
        metrics.request("/token", 400, Duration::from_millis(1));
        metrics.request(UNMATCHED, 404, Duration::from_micros(100));
        metrics.token_issued(GrantType::RefreshToken);
        metrics.refresh_token_replayed();
        let text = metrics.encode().unwrap();
        for expected in [
            "latchkey_http_requests_total{route=\"/token\",status=\"200\"} 2\n",
            "latchkey_http_requests_total{route=\"/token\",status=\"400\"} 1\n",
            "latchkey_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n",
            "latchkey_http_request_duration_seconds_count{route=\"/token\",status=\"200\"} 2\n",
            "latchkey_http_request_duration_seconds_bucket{route=\"/token\",status=\"200\",le=\"0.005\"} 1\n",
            "latchkey_tokens_issued_total{grant_type=\"refresh_token\"} 1\n",
            "latchkey_tokens_issued_total{grant_type=\"authorization_code\"} 0\n",
            "latchkey_refresh_token_replays_total 1\n",
            "latchkey_authorization_code_replays_total 0\n",
            "latchkey_db_pool_connections 3\n",
            "latchkey_db_pool_idle_connections 2\n",
            "latchkey_password_checks_rejected_total 7\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }

    #[test]
    fn every_recorded_request_is_counted_once() {
        let metrics = Metrics::new(Arc::new(Fixed));
        for _ in 0..1_000 {
            metrics.request("/api/oauth/token", 200, Duration::from_micros(700));
        }
        let text = metrics.encode().unwrap();
        for expected in [
            "latchkey_http_requests_total{route=\"/api/oauth/token\",status=\"200\"} 1000\n",
            "latchkey_http_request_duration_seconds_count{route=\"/api/oauth/token\",status=\"200\"} 1000\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }
}
