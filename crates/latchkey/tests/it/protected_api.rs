//! The protected example API (SPEC 11) behind the reusable token guard:
//! every route × {no token, expired, wrong signature, revoked grant,
//! missing scope, other tenant, API key, revoked API key}, plus pagination.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::seed_integrations::{authorize_url, register, token_form};
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    every_route_under_every_credential,
    lists_are_paginated_with_a_cursor
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";
const ACME: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
const BIRCH: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000b102";
const API_SCOPES: &[&str] = &[
    "cases:read",
    "cases:write",
    "user:read",
    "firm:read",
    "read:clients",
    "write:invoices",
];

/// The default vocabulary plus ClientCasa's API scopes.
fn both_vocabularies() -> Options {
    Options {
        tweak: Some(Box::new(|raw| {
            let scopes: Vec<latchkey::config::RawScope> = [
                ("openid", "Sign you in"),
                ("email", "See your email address"),
                ("profile", "See your name"),
                ("offline_access", "Stay connected"),
                ("cases:read", "Read cases"),
                ("cases:write", "Write cases"),
                ("user:read", "Read your profile"),
                ("firm:read", "Read your firm"),
                ("read:clients", "Read clients"),
                ("write:invoices", "Create invoices"),
            ]
            .into_iter()
            .map(|(name, description)| latchkey::config::RawScope {
                name: name.into(),
                description: description.into(),
                sensitive: false,
            })
            .collect();
            raw.scopes = Some(scopes);
        })),
        ..Options::default()
    }
}

/// Alice's tokens for a client, acting on `organization`.
async fn tokens_for(app: &TestApp, client: &(String, String), scope: &str, organization: &str) -> Value {
    let mut agent = UserAgent::new(&app.base_url);
    let url = authorize_url(
        app,
        &[
            ("response_type", "code"),
            ("client_id", &client.0),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("prompt", "consent"),
        ],
    );
    let done = agent.authorize(&url, ALICE, "approve", Some(organization)).await;
    let code = query_of(&done.location.unwrap())["code"].clone();
    let (status, tokens, _) = token_form(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    bearer: Option<&str>,
) -> (u16, String, Value) {
    let mut request = app.http.request(method.clone(), app.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// A copy of `token` with other claims, signed by the server's key.
fn resigned(app: &TestApp, token: &str, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut claims = crate::relying_party::jwt_claims(token)
        .as_object()
        .unwrap()
        .clone();
    change(&mut claims);
    app.state
        .keys
        .ring()
        .sign_jwt(
            latchkey::keys::Alg::Rs256,
            "at+jwt",
            &claims,
            latchkey::unix_now(),
        )
        .unwrap()
}

async fn every_route_under_every_credential(backend: Backend) {
    let app = TestApp::spawn_with(backend, both_vocabularies()).await;
    app.seed_demo().await;
    let mut all_scopes = vec!["openid"];
    all_scopes.extend(API_SCOPES);
    let client = register(&app, &[REDIRECT], &all_scopes).await;
    let scope = all_scopes.join(" ");
    let acme = tokens_for(&app, &client, &scope, ACME).await;
    let birch = tokens_for(&app, &client, &scope, BIRCH).await;
    let narrow = tokens_for(&app, &client, "openid", ACME).await;
    let revoked = tokens_for(&app, &client, &scope, ACME).await;
    let acme_token = acme["access_token"].as_str().unwrap().to_owned();
    let birch_token = birch["access_token"].as_str().unwrap().to_owned();

    // Data of each tenant, made through the API itself.
    let (status, _, made) = call(
        &app,
        &Method::POST,
        "/api/v1/cases",
        Some(&json!({"title": "Acme v. Birch"})),
        Some(&acme_token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let acme_case = made["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(made["data"]["status"], "open");
    let (_, _, birch_case) = call(
        &app,
        &Method::POST,
        "/api/v1/cases",
        Some(&json!({"title": "Birch matter", "status": "pending"})),
        Some(&birch_token),
    )
    .await;
    let birch_case = birch_case["data"]["id"].as_str().unwrap().to_owned();
    let (_, _, acme_clients) = call(&app, &Method::GET, "/api/v1/clients", None, Some(&acme_token)).await;
    let acme_customer = acme_clients["data"][0]["id"].as_str().unwrap().to_owned();

    // Credentials.
    let (status, key) = app
        .admin(
            Method::POST,
            &format!("/organizations/{ACME}/api-keys"),
            Some(json!({"name": "CRM sync", "scopes": API_SCOPES})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(
        key["message"],
        "API key created. Save the key - it will not be shown again."
    );
    let api_key = key["data"]["apiKey"].as_str().unwrap().to_owned();
    let (_, gone) = app
        .admin(
            Method::POST,
            &format!("/organizations/{ACME}/api-keys"),
            Some(json!({"name": "old", "scopes": ["cases:read"]})),
        )
        .await;
    let revoked_key = gone["data"]["apiKey"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!(
                "/organizations/{ACME}/api-keys/{}",
                gone["data"]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let now = latchkey::unix_now();
    let expired = resigned(&app, &acme_token, |c| {
        c.insert("iat".into(), (now - 7200).into());
        c.insert("exp".into(), (now - 3600).into());
    });
    let (head, rest) = acme_token.split_once('.').unwrap();
    let forged_claims = resigned(&app, &acme_token, |c| {
        c.insert(
            latchkey::config::Config::default_config()
                .unwrap()
                .claims
                .tenant_id,
            BIRCH.into(),
        );
    });
    let forged = format!(
        "{head}.{}.{}",
        forged_claims.split('.').nth(1).unwrap(),
        rest.split_once('.').unwrap().1
    );
    let response = app
        .http
        .post(app.url("/api/oauth/revoke"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("token", revoked["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let revoked_token = revoked["access_token"].as_str().unwrap().to_owned();
    let narrow_token = narrow["access_token"].as_str().unwrap().to_owned();

    let invoice = json!({"client_id": acme_customer, "amount_cents": 12_500, "currency": "USD"});
    let new_case = json!({"title": "Another case"});
    let routes: Vec<(Method, String, &str, Option<&Value>)> = vec![
        (Method::GET, "/api/v1/cases".into(), "cases:read", None),
        (
            Method::GET,
            format!("/api/v1/cases/{acme_case}"),
            "cases:read",
            None,
        ),
        (
            Method::POST,
            "/api/v1/cases".into(),
            "cases:write",
            Some(&new_case),
        ),
        (Method::GET, "/api/v1/clients".into(), "read:clients", None),
        (
            Method::GET,
            format!("/api/v1/clients/{acme_customer}"),
            "read:clients",
            None,
        ),
        (
            Method::POST,
            "/api/v1/invoices".into(),
            "write:invoices",
            Some(&invoice),
        ),
        (Method::GET, "/api/v1/me".into(), "user:read", None),
        (Method::GET, "/api/v1/firm".into(), "firm:read", None),
    ];
    // RFC 9728 §5.1: every refusal points to the API's metadata.
    let metadata = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
        app.base_url
    );
    for (method, path, scope, body) in &routes {
        let label = format!("{method} {path}");
        // The owner's token works.
        let (status, _, ok) = call(&app, method, path, *body, Some(&acme_token)).await;
        assert!(status == 200 || status == 201, "{label}: {status} {ok}");
        assert_eq!(ok["success"], true, "{label}");

        let (status, challenge, _) = call(&app, method, path, *body, None).await;
        assert_eq!(
            (status, challenge),
            (401, format!("Bearer {metadata}")),
            "{label}: no token"
        );

        for (name, token) in [
            ("expired", &expired),
            ("wrong signature", &forged),
            ("revoked grant", &revoked_token),
            ("revoked API key", &revoked_key),
        ] {
            let (status, challenge, error) = call(&app, method, path, *body, Some(token)).await;
            assert_eq!(status, 401, "{label}: {name}");
            assert!(
                challenge.starts_with("Bearer error=\"invalid_token\", error_description=")
                    && challenge.ends_with(&format!(", {metadata}")),
                "{label}: {name}: {challenge}"
            );
            assert_eq!(error["error"], "invalid_token", "{label}: {name}");
        }

        let (status, challenge, error) = call(&app, method, path, *body, Some(&narrow_token)).await;
        assert_eq!(status, 403, "{label}: missing scope");
        assert!(
            challenge.contains("insufficient_scope")
                && challenge.contains(&format!("scope=\"{scope}\""))
                && challenge.ends_with(&metadata),
            "{label}: {challenge}"
        );
        assert!(error["error_description"].as_str().unwrap().contains(scope));

        // The API key acts for its organization, and for no user.
        let (status, _, answer) = call(&app, method, path, *body, Some(&api_key)).await;
        if path.ends_with("/me") {
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("no_user")),
                "{label}: API key"
            );
        } else {
            assert!(
                status == 200 || status == 201,
                "{label}: API key: {status} {answer}"
            );
        }
    }

    // Another tenant's token sees only its own organization.
    let (_, _, listed) = call(&app, &Method::GET, "/api/v1/cases", None, Some(&birch_token)).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [birch_case.as_str()], "only Birch's cases");
    for path in [
        format!("/api/v1/cases/{acme_case}"),
        format!("/api/v1/clients/{acme_customer}"),
    ] {
        let (status, _, body) = call(&app, &Method::GET, &path, None, Some(&birch_token)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let (status, _, _) = call(
        &app,
        &Method::POST,
        "/api/v1/invoices",
        Some(&invoice),
        Some(&birch_token),
    )
    .await;
    assert_eq!(status, 404, "an invoice for another tenant's client");
    let (_, _, clients) = call(&app, &Method::GET, "/api/v1/clients", None, Some(&birch_token)).await;
    assert!(!clients.to_string().contains(&acme_customer));
    let (_, _, firm) = call(&app, &Method::GET, "/api/v1/firm", None, Some(&birch_token)).await;
    assert_eq!(firm["data"], json!({"id": BIRCH, "name": "Birch & Partners"}));
    let (_, _, me) = call(&app, &Method::GET, "/api/v1/me", None, Some(&birch_token)).await;
    assert_eq!(
        (me["data"]["email"].as_str(), me["data"]["role"].as_str()),
        (Some("alice@example.com"), Some("ATTORNEY"))
    );
    let (_, _, me) = call(&app, &Method::GET, "/api/v1/me", None, Some(&acme_token)).await;
    assert_eq!(me["data"]["role"], "FIRM_ADMIN");
    let (status, _, _) = call(
        &app,
        &Method::GET,
        &format!("/api/v1/cases/{birch_case}"),
        None,
        Some(&api_key),
    )
    .await;
    assert_eq!(status, 404, "the Acme API key cannot read Birch");

    // API keys are listed with their last use and never shown again.
    let (_, keys) = app
        .admin(Method::GET, &format!("/organizations/{ACME}/api-keys"), None)
        .await;
    let listed = keys["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|k| k["lastUsedAt"].is_string()), "{keys}");
    assert!(!keys.to_string().contains(&api_key));
    let stored = app.state.store.list_api_keys(ACME).await.unwrap();
    assert!(stored.iter().any(|k| {
        k.key_digest
            .matches(&latchkey::secret::Secret::new(api_key.clone()).digest())
    }));
    // Bad input gets the error shape.
    let (status, _, error) = call(
        &app,
        &Method::POST,
        "/api/v1/cases",
        Some(&json!({"title": "x", "status": "lost"})),
        Some(&acme_token),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("validation_failed"))
    );
    let (status, _, _) = call(
        &app,
        &Method::POST,
        "/api/v1/invoices",
        Some(&json!({"client_id": acme_customer, "amount_cents": -5, "currency": "USD"})),
        Some(&acme_token),
    )
    .await;
    assert_eq!(status, 400);
}

async fn lists_are_paginated_with_a_cursor(backend: Backend) {
    let app = TestApp::spawn_with(backend, both_vocabularies()).await;
    app.seed_demo().await;
    let (_, key) = app
        .admin(
            Method::POST,
            &format!("/organizations/{ACME}/api-keys"),
            Some(json!({"name": "k", "scopes": ["cases:read", "cases:write"]})),
        )
        .await;
    let api_key = key["data"]["apiKey"].as_str().unwrap().to_owned();
    let mut made = Vec::new();
    for title in ["one", "two", "three"] {
        let (status, _, case) = call(
            &app,
            &Method::POST,
            "/api/v1/cases",
            Some(&json!({"title": title})),
            Some(&api_key),
        )
        .await;
        assert_eq!(status, 201);
        made.push(case["data"]["id"].as_str().unwrap().to_owned());
    }
    let (_, _, first) = call(&app, &Method::GET, "/api/v1/cases?limit=2", None, Some(&api_key)).await;
    let page: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["one", "two"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, _, second) = call(
        &app,
        &Method::GET,
        &format!("/api/v1/cases?limit=2&cursor={cursor}"),
        None,
        Some(&api_key),
    )
    .await;
    let page: Vec<&str> = second["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["three"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let (status, _, error) = call(
        &app,
        &Method::GET,
        "/api/v1/cases?limit=500",
        None,
        Some(&api_key),
    )
    .await;
    assert_eq!((status, error["error"]["field"].as_str()), (400, Some("limit")));
}
