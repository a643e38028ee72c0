//! What the fuzzer found, kept as tests on both backends.
//!
//! A NUL character (`%00` in a query or form, `\u0000` in JSON, a decoded
//! Basic credential) reached PostgreSQL, which cannot store or compare
//! text containing one, and the request got a 500. No Latchkey parameter
//! may contain a control character (RFC 6749 Appendix A), so such input is
//! now refused or ignored where it is parsed, on both backends alike.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{ADMIN_KEY, Backend, TestApp};
use crate::user_agent::ALICE;

backend_tests!(nul_characters_are_refused_where_requests_are_parsed);

async fn nul_characters_are_refused_where_requests_are_parsed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demo = app.seed_demo().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut answers = Vec::new();

    // The admin API: a JSON body, and path parameters.
    for (method, path, body) in [
        (Method::POST, "/organizations", Some(json!({"name": "Firm\u{0}"}))),
        (
            Method::POST,
            "/users",
            Some(json!({"email": "a@example.com", "name": "\u{0}", "password": "long enough password"})),
        ),
        (Method::GET, "/users/%00", None),
        (Method::DELETE, "/oauth-clients/client_%00", None),
        (Method::GET, "/organizations/x%00y/api-keys", None),
    ] {
        let mut request = http
            .request(method.clone(), app.url(&format!("/api/v1/admin{path}")))
            .header("x-admin-api-key", ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        answers.push((format!("{method} {path}"), response.status().as_u16()));
    }

    // The OAuth endpoints: query, form and JSON parameters, Basic credentials.
    let token = app.url("/api/oauth/token");
    let requests = [
        (
            "authorize client_id",
            http.get(app.url("/api/oauth/authorize?response_type=code&client_id=%00")),
        ),
        (
            "token client_id (form)",
            http.post(&token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=refresh_token&refresh_token=x&client_id=c%00"),
        ),
        (
            "token client_id (JSON)",
            http.post(&token)
                .json(&json!({"grant_type": "refresh_token", "refresh_token": "x", "client_id": "\u{0}"})),
        ),
        (
            "token Basic credentials",
            http.post(&token)
                .basic_auth("client\u{0}", Some("secret"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]),
        ),
        (
            "introspect raw NUL in the form",
            http.post(app.url("/api/oauth/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b"token=x&client_id=\x00".to_vec()),
        ),
        (
            "sign-in email",
            http.post(app.url("/login"))
                .header("cookie", format!("latchkey_csrf={}", "c".repeat(40)))
                .form(&[
                    ("csrf_token", "c".repeat(40).as_str()),
                    ("email", "alice@example.com\u{0}"),
                    ("password", ALICE.1),
                ]),
        ),
    ];
    for (name, request) in requests {
        let response = request.send().await.unwrap();
        answers.push((name.to_owned(), response.status().as_u16()));
    }
    let failed: Vec<&(String, u16)> = answers.iter().filter(|(_, status)| *status >= 500).collect();
    assert!(failed.is_empty(), "server errors: {failed:?}");
    for (name, status) in &answers {
        assert!((400..500).contains(status), "{name}: {status}");
    }

    // A NUL in an optional parameter of a valid request makes it invalid,
    // never a server error: the demo client's authorization with a nonce.
    let url = format!(
        "{}?response_type=code&client_id={}&nonce=n%00&code_challenge={}&code_challenge_method=S256",
        app.url("/api/oauth/authorize"),
        demo.client.client_id,
        "a".repeat(43)
    );
    let status = http.get(url).send().await.unwrap().status().as_u16();
    assert!(status < 500, "authorize with a NUL in the nonce: {status}");
}
