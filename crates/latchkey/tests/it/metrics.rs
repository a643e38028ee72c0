//! `GET /metrics` (issue 10): served only on `metrics.bind`, in the
//! Prometheus text format, with request counters under route patterns,
//! tokens per grant type, replays, the database pool and password refusals.

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{code_exchange, register, token_form};

backend_tests!(
    metrics_count_requests_tokens_and_replays_in_prometheus_text,
    metrics_are_served_only_on_their_own_address,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A server with metrics on a free loopback port and no refresh grace
/// window, so a second use of a refresh token is a replay.
async fn spawn_with_metrics(backend: Backend) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            raw.metrics.bind = Some("127.0.0.1:0".to_owned());
            raw.tokens.refresh_token_grace_seconds = Some(0);
        })),
        ..Options::default()
    };
    TestApp::spawn_with(backend, options).await
}

async fn scrape(app: &TestApp) -> String {
    let url = format!("{}/metrics", app.metrics_url.as_deref().unwrap());
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// Whether `line` is a sample line of the text format: a metric name,
/// optionally `{name="value",…}`, one space, a number.
fn is_sample_line(line: &str) -> bool {
    let Some((series, value)) = line.rsplit_once(' ') else {
        return false;
    };
    let number = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => match rest.strip_suffix('}') {
            Some(labels) => (name, Some(labels)),
            None => return false,
        },
        None => (series, None),
    };
    let name_ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let labels_ok = labels.is_none_or(|labels| {
        labels.split("\",").all(|pair| {
            let Some((key, value)) = pair.split_once("=\"") else {
                return false;
            };
            !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !value.contains('\n')
        })
    });
    number && name_ok && labels_ok
}

async fn metrics_count_requests_tokens_and_replays_in_prometheus_text(backend: Backend) {
    let app = spawn_with_metrics(backend).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email"]).await;
    let tokens = code_exchange(&app, &client_id, &secret, REDIRECT, None).await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", &client_id),
        ("client_secret", &secret),
    ];
    let (status, body, _) = token_form(&app, &refresh).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = token_form(&app, &refresh).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    // A path with a parameter and a path no route has.
    let apps = format!(
        "{}/oauth-apps/client_not_a_real_one",
        app.state.config.paths.settings
    );
    app.http.get(app.url(&apps)).send().await.unwrap();
    app.http.get(app.url("/no/such/page")).send().await.unwrap();

    let text = scrape(&app).await;
    let token = &app.state.config.paths.token;
    let series = |name: &str, labels: &str| format!("latchkey_{name}{{{labels}}}");
    for (name, labels, expected) in [
        ("tokens_issued_total", "grant_type=\"authorization_code\"", 1.0),
        ("tokens_issued_total", "grant_type=\"refresh_token\"", 1.0),
        (
            "http_requests_total",
            &format!("route=\"{token}\",status=\"200\""),
            2.0,
        ),
        (
            "http_requests_total",
            &format!("route=\"{token}\",status=\"400\""),
            1.0,
        ),
        (
            "http_request_duration_seconds_count",
            &format!("route=\"{token}\",status=\"200\""),
            2.0,
        ),
        ("http_requests_total", "route=\"unmatched\",status=\"404\"", 1.0),
    ] {
        let series = series(name, labels);
        assert_eq!(sample(&text, &series), Some(expected), "{series} in\n{text}");
    }
    assert_eq!(
        sample(&text, "latchkey_refresh_token_replays_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "latchkey_authorization_code_replays_total"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "latchkey_password_checks_rejected_total"),
        Some(0.0),
        "{text}"
    );
    let pool = sample(&text, "latchkey_db_pool_connections").unwrap();
    let idle = sample(&text, "latchkey_db_pool_idle_connections").unwrap();
    assert!(pool >= 1.0 && idle <= pool, "{text}");
    // Route patterns, never raw paths: the client id is nowhere.
    let pattern = format!(
        "route=\"{}/oauth-apps/{{client_id}}\"",
        app.state.config.paths.settings
    );
    assert!(text.contains(&pattern), "{pattern} in\n{text}");
    assert!(!text.contains("client_not_a_real_one") && !text.contains("/no/such/page"));
    // Every line is a comment or a sample.
    for line in text.lines().filter(|line| !line.is_empty()) {
        assert!(
            line.starts_with("# HELP ") || line.starts_with("# TYPE ") || is_sample_line(line),
            "not Prometheus text: {line:?}"
        );
    }
}

async fn metrics_are_served_only_on_their_own_address(backend: Backend) {
    let app = spawn_with_metrics(backend).await;
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let metrics = app.metrics_url.as_deref().unwrap();
    let other = app.http.get(format!("{metrics}/healthz")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    // Off by default: no metrics address at all.
    let plain = TestApp::spawn(backend).await;
    assert!(plain.metrics_url.is_none());
    let public = plain.http.get(plain.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}
