//! Rate limits (SPEC 12): over the limit, `429 Too Many Requests` with
//! `Retry-After` and an OAuth-style error, per key and per endpoint.

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{authorize_url, register};

backend_tests!(each_limited_endpoint_answers_429_with_retry_after);

async fn expect_429(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limit_exceeded");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("retry after")
    );
}

async fn each_limited_endpoint_answers_429_with_retry_after(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            raw.rate_limits.authorize_per_minute = Some(2);
            raw.rate_limits.token_per_minute = Some(2);
            raw.rate_limits.userinfo_per_minute = Some(2);
            raw.rate_limits.revoke_per_minute = Some(1);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (client_id, secret) = register(&app, &["https://yourapp.com/cb"], &["openid"]).await;
    let (other_id, other_secret) = register(&app, &["https://yourapp.com/cb"], &["openid"]).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let url = authorize_url(&app, &[("response_type", "code"), ("client_id", &client_id)]);
    for _ in 0..2 {
        assert_eq!(no_redirects.get(&url).send().await.unwrap().status(), 303);
    }
    expect_429(no_redirects.get(&url).send().await.unwrap()).await;

    let token = |id: String, secret: String| {
        let http = app.http.clone();
        let url = app.url("/api/oauth/token");
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "refresh_x"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..2 {
        assert_eq!(token(client_id.clone(), secret.clone()).await.status(), 400);
    }
    expect_429(token(client_id.clone(), secret.clone()).await).await;
    assert_eq!(
        token(other_id.clone(), other_secret.clone()).await.status(),
        400,
        "another client has its own count"
    );

    let userinfo = app.url("/api/oauth/userinfo");
    for _ in 0..2 {
        assert_eq!(
            app.http
                .get(&userinfo)
                .bearer_auth("some-token")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    expect_429(
        app.http
            .get(&userinfo)
            .bearer_auth("some-token")
            .send()
            .await
            .unwrap(),
    )
    .await;

    let revoke = || {
        app.http
            .post(app.url("/api/oauth/revoke"))
            .basic_auth(&other_id, Some(&other_secret))
            .form(&[("token", "x")])
            .send()
    };
    assert_eq!(revoke().await.unwrap().status(), 200);
    expect_429(revoke().await.unwrap()).await;
}
