//! Token endpoint and userinfo errors (SPEC 6): each error code with its
//! status, `WWW-Authenticate` where the RFCs require it, and the response
//! headers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{obtain_code, register, token_form};

backend_tests!(
    client_authentication_failures_are_invalid_client_with_401,
    code_misuse_is_invalid_grant,
    expired_code_says_so,
    malformed_token_requests_are_invalid_request,
    userinfo_refuses_missing_bad_and_unscoped_tokens,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

async fn setup(app: &TestApp) -> (String, String) {
    app.seed_demo().await;
    register(app, &[REDIRECT], &["openid", "email", "cases:read"]).await
}

async fn code_for(app: &TestApp, client_id: &str, challenge: Option<&str>) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(challenge) = challenge {
        params.push(("code_challenge", challenge));
        params.push(("code_challenge_method", "S256"));
    }
    obtain_code(app, &params).await
}

async fn client_authentication_failures_are_invalid_client_with_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client_id, secret) = setup(&app).await;
    let code = code_for(&app, &client_id, None).await;
    let token_url = app.url("/api/oauth/token");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];

    // Wrong secret in Basic: 401 with a Basic challenge.
    let response = app
        .http
        .post(&token_url)
        .basic_auth(&client_id, Some("secret_wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].is_string());

    // Wrong secret in the body, unknown client, no credentials: 401.
    for extra in [
        vec![
            ("client_id", client_id.as_str()),
            ("client_secret", "secret_wrong"),
        ],
        vec![
            ("client_id", "client_unknown"),
            ("client_secret", secret.as_str()),
        ],
        vec![("client_id", client_id.as_str())],
        vec![],
    ] {
        let mut fields = form.to_vec();
        fields.extend(extra.iter().copied());
        let (status, body, _) = token_form(&app, &fields).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{extra:?}"
        );
    }

    // Two methods at once.
    let mut fields = form.to_vec();
    fields.push(("client_secret", &secret));
    let response = app
        .http
        .post(&token_url)
        .basic_auth(&client_id, Some(&secret))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A disabled client cannot exchange even a valid code.
    app.admin(Method::POST, &format!("/oauth-clients/{client_id}/disable"), None)
        .await;
    let mut fields = form.to_vec();
    fields.extend([
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ]);
    let (status, body, _) = token_form(&app, &fields).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

async fn code_misuse_is_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client_id, secret) = setup(&app).await;
    let verifier = "v".repeat(43);
    let challenge = latchkey::secret::pkce_s256_challenge(&verifier);
    let auth = [
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let exchange = |code: String, redirect: &'static str, verifier: Option<String>| {
        let mut fields: Vec<(String, String)> = vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code),
            ("redirect_uri".into(), redirect.into()),
        ];
        fields.extend(auth.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        if let Some(verifier) = verifier {
            fields.push(("code_verifier".into(), verifier));
        }
        fields
    };
    let post = |fields: Vec<(String, String)>| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(app.url("/api/oauth/token"))
                .form(&fields)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };

    let code = code_for(&app, &client_id, Some(&challenge)).await;
    let (status, body) = post(exchange(code.clone(), REDIRECT, Some("w".repeat(43)))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let (status, body) = post(exchange(code.clone(), REDIRECT, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "missing verifier"
    );
    let (status, body) = post(exchange(
        code.clone(),
        "https://yourapp.com/other",
        Some(verifier.clone()),
    ))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );
    let (status, body) = post(exchange(code.clone(), REDIRECT, Some(verifier.clone()))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(exchange(code.clone(), REDIRECT, Some(verifier.clone()))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "code used twice"
    );
    let (status, body) = post(exchange("code_unknown".into(), REDIRECT, None)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A verifier for a code issued without PKCE is refused.
    let plain_code = code_for(&app, &client_id, None).await;
    let (status, body) = post(exchange(plain_code, REDIRECT, Some(verifier.clone()))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A code belongs to its client.
    let (other_id, other_secret) = register(&app, &[REDIRECT], &["openid"]).await;
    let code = code_for(&app, &client_id, None).await;
    let (status, body, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &other_id),
            ("client_secret", &other_secret),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

async fn expired_code_says_so(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            raw.tokens.authorization_code_ttl_seconds = Some(1)
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (client_id, secret) = setup(&app).await;
    let code = code_for(&app, &client_id, None).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "authorization code has expired"})
    );
}

async fn malformed_token_requests_are_invalid_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client_id, secret) = setup(&app).await;
    let token_url = app.url("/api/oauth/token");
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "application/x-www-form-urlencoded",
            format!("client_id={client_id}&client_secret={secret}"),
            400,
            "invalid_request",
        ),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type=password&client_id={client_id}&client_secret={secret}"),
            400,
            "unsupported_grant_type",
        ),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type=authorization_code&client_id={client_id}&client_secret={secret}"),
            400,
            "invalid_request",
        ),
        (
            "application/x-www-form-urlencoded",
            format!(
                "grant_type=authorization_code&code=a&code=b&client_id={client_id}&client_secret={secret}"
            ),
            400,
            "invalid_request",
        ),
        ("application/json", "{not json".into(), 400, "invalid_request"),
        (
            "application/json",
            r#"{"grant_type": 5}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "text/plain",
            "grant_type=authorization_code".into(),
            400,
            "invalid_request",
        ),
    ];
    for (content_type, body, status, error) in cases {
        let response = app
            .http
            .post(&token_url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"], error, "{body}: {json}");
        assert!(json["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let response = app.http.get(&token_url).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

async fn userinfo_refuses_missing_bad_and_unscoped_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let userinfo = app.url("/api/oauth/userinfo");
    let response = app.http.get(&userinfo).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let response = app.http.get(&userinfo).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 401, "{token}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
    }
    // A token without `openid` may not read userinfo.
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "cases:read"]).await;
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "cases:read"),
        ],
    )
    .await;
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("id_token").is_none(), "no openid, no ID token");
    let access = tokens["access_token"].as_str().unwrap();
    let response = app.http.get(&userinfo).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    // POST with the token in the body works like GET.
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ],
    )
    .await;
    let (_, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = app
        .http
        .post(&userinfo)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let claims: Value = response.json().await.unwrap();
    assert!(claims["sub"].is_string());
    assert!(claims.get("email").is_none(), "no email scope, no email");
    // Disabling the client ends its tokens at once.
    app.admin(Method::POST, &format!("/oauth-clients/{client_id}/disable"), None)
        .await;
    let response = app.http.get(&userinfo).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), 401);
}
