//! Dynamic client registration (RFC 7591) and its management (RFC 7592):
//! registration by the `openidconnect` client and then its code flow with
//! PKCE on another loopback port; confidential registration and
//! client_secret_basic; every refusal; reading, replacing and deleting a
//! registration with its token; initial access tokens (admin API and
//! CLI); the mode `off`; the rate limit; the purge of registrations never
//! used; the consent screen's "not verified" note.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreClientRegistrationRequest, CoreGrantType,
    CoreProviderMetadata, CoreResponseType,
};
use openidconnect::registration::EmptyAdditionalClientMetadata;
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientName, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, ResponseTypes, Scope,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp, client_body, read_json};
use crate::relying_party::http_client;
use crate::seed_integrations::authorize_url;
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    registered_public_client_completes_the_code_flow_on_another_loopback_port,
    confidential_registration_then_client_secret_basic_exchange,
    every_refusal_names_what_to_fix,
    unknown_fields_are_ignored_and_policy_scopes_applied,
    private_use_schemes_are_accepted_only_when_allowed,
    registration_is_read_replaced_and_deleted_with_its_token,
    initial_access_tokens_guard_registration,
    registration_is_off_by_default,
    registration_is_rate_limited_per_client_ip,
    unused_registrations_are_purged,
    registered_clients_must_use_pkce_with_s256,
);

const LOOPBACK: &str = "http://127.0.0.1:49152/callback";
const LOOPBACK_AT_REQUEST: &str = "http://127.0.0.1:51234/callback";

async fn spawn(
    backend: Backend,
    mode: &'static str,
    tweak: impl FnOnce(&mut latchkey::config::RawConfig) + Send + 'static,
) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(move |raw| {
            raw.oauth.dynamic_client_registration = Some(mode.to_owned());
            // The tests register many clients from one address.
            raw.rate_limits.register_per_minute = Some(1000);
            tweak(raw);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    app
}

async fn open_app(backend: Backend) -> TestApp {
    spawn(backend, "open", |_| {}).await
}

fn endpoint(app: &TestApp) -> String {
    app.url("/api/oauth/register")
}

/// Posts a registration body; `bearer` is an initial access token.
async fn register(
    app: &TestApp,
    body: &Value,
    bearer: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = app.http.post(endpoint(app)).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let headers = response.headers().clone();
    let (status, json) = read_json(response).await;
    (status, json, headers)
}

/// A configuration-endpoint request with an optional registration token.
async fn manage(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut request = app.http.request(method, uri);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str, mentions: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(mentions), "`{mentions}` not in {body}");
}

/// Signs alice in on an authorization URL; returns the consent page's body
/// and the final redirect after approving.
async fn approve(app: &TestApp, url: &str) -> (String, String) {
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(url).await;
    let page = agent.follow(first).await;
    let signed_in = agent.sign_in(&page, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = agent.consent(&consent, "approve", None).await;
    let location = done
        .location
        .unwrap_or_else(|| panic!("not redirected back: {} {}", done.status, done.body));
    (consent.body, location)
}

/// The code flow with PKCE driven by `openidconnect`, redirecting to
/// `redirect`; returns the access token and the consent page.
async fn code_flow(app: &TestApp, client_id: &str, secret: Option<&str>, redirect: &str) -> (String, String) {
    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap())
    .set_auth_type(if secret.is_some() {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (consent, location) = approve(app, url.as_str()).await;
    assert!(location.starts_with(redirect), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], *csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .unwrap();
    let id_token = openidconnect::TokenResponse::id_token(&tokens).expect("an ID token");
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies");
    (tokens.access_token().secret().clone(), consent)
}

async fn registered_public_client_completes_the_code_flow_on_another_loopback_port(backend: Backend) {
    let app = open_app(backend).await;
    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    let registration_endpoint = metadata
        .registration_endpoint()
        .expect("discovery names the registration endpoint")
        .clone();
    assert_eq!(registration_endpoint.as_str(), endpoint(&app));
    let registered = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(LOOPBACK.to_owned()).unwrap()],
        EmptyAdditionalClientMetadata::default(),
    )
    .set_client_name(Some(ClientName::new("Cursor".to_owned()).into()))
    .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::None))
    .set_grant_types(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .set_response_types(Some(vec![ResponseTypes::new(vec![CoreResponseType::Code])]))
    .register_async(&registration_endpoint, &http_client)
    .await
    .expect("registered");
    assert!(
        registered.client_secret().is_none(),
        "a public client has no secret"
    );
    assert!(registered.registration_access_token().is_some());
    let client_id = registered.client_id().as_str().to_owned();

    // RFC 8252 §7.3: the app listens on another port at request time.
    let (access_token, consent) = code_flow(&app, &client_id, None, LOOPBACK_AT_REQUEST).await;
    assert_eq!(app.userinfo_status(&access_token).await, 200);
    assert!(
        consent.contains("Latchkey has not verified this app"),
        "{consent}"
    );
    assert!(consent.contains("127.0.0.1:51234"), "the redirect host is named");

    // The operator sees it, with its origin and no organization.
    let (status, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(status, 200);
    let client = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clientId"] == client_id)
        .expect("listed")
        .clone();
    assert_eq!(client["origin"], "dynamic");
    assert_eq!(client["organizationId"], Value::Null);
    assert_eq!(client["tokenEndpointAuthMethod"], "none");
    // The user sees it under Connected Apps like any other app.
    let (_, users) = app.admin(Method::GET, "/users", None).await;
    let alice = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == ALICE.0)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, connected) = app
        .admin(Method::GET, &format!("/users/{alice}/connected-apps"), None)
        .await;
    assert!(connected.to_string().contains(&client_id), "{connected}");

    // An operator's client keeps exact matching, and no note.
    let operator = app
        .create_client(
            json!({"name": "Operator App", "redirectUris": [LOOPBACK], "allowed_scopes": ["openid"]}),
        )
        .await;
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", operator["clientId"].as_str().unwrap()),
            ("redirect_uri", LOOPBACK_AT_REQUEST),
        ],
    );
    let page = UserAgent::new(&app.base_url).get(&url).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("redirect_uri is not registered"));
    let (consent, _) = approve(
        &app,
        &authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", operator["clientId"].as_str().unwrap()),
                ("redirect_uri", LOOPBACK),
            ],
        ),
    )
    .await;
    assert!(
        !consent.contains("has not verified"),
        "operator apps have no note"
    );
}

async fn confidential_registration_then_client_secret_basic_exchange(backend: Backend) {
    let app = open_app(backend).await;
    let body = json!({
        "client_name": "Partner Portal",
        "redirect_uris": ["https://partner.example/oauth/callback"],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_uri": "https://partner.example",
        "logo_uri": "https://partner.example/logo.png",
        "scope": "openid email",
        "software_id": "partner-portal",
        "software_version": "2.1.0",
    });
    let (status, registered, headers) = register(&app, &body, None).await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(headers["cache-control"], "no-store");
    let client_id = registered["client_id"].as_str().unwrap();
    let secret = registered["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("secret_"));
    assert_eq!(registered["client_secret_expires_at"], 0);
    assert!(registered["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(
        registered["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("reg_")
    );
    assert_eq!(
        registered["registration_client_uri"],
        format!("{}/{client_id}", endpoint(&app))
    );
    for (field, value) in [
        ("client_name", json!("Partner Portal")),
        ("redirect_uris", json!(["https://partner.example/oauth/callback"])),
        ("token_endpoint_auth_method", json!("client_secret_basic")),
        ("grant_types", json!(["authorization_code", "refresh_token"])),
        ("response_types", json!(["code"])),
        ("client_uri", json!("https://partner.example")),
        ("logo_uri", json!("https://partner.example/logo.png")),
        ("scope", json!("openid email")),
        ("software_id", json!("partner-portal")),
        ("software_version", json!("2.1.0")),
    ] {
        assert_eq!(registered[field], value, "{field}");
    }
    let (access_token, consent) = code_flow(
        &app,
        client_id,
        Some(secret),
        "https://partner.example/oauth/callback",
    )
    .await;
    assert_eq!(app.userinfo_status(&access_token).await, 200);
    assert!(consent.contains("partner.example"));
    // The secret is stored as a digest only: it is not in the database.
    let stored = app.state.store.find_client(client_id).await.unwrap().unwrap();
    assert!(stored.secret_digest.is_some());
    let audit = app.admin(Method::GET, "/audit-events", None).await.1;
    let registered_event = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "client.registered")
        .expect("the registration is audited")
        .clone();
    assert_eq!(registered_event["clientId"], client_id);
    assert!(!audit.to_string().contains(secret), "no secret in the audit log");
}

async fn every_refusal_names_what_to_fix(backend: Backend) {
    let app = open_app(backend).await;
    let good = "https://app.example/cb";
    let cases = [
        (
            json!({"redirect_uris": [good, "http://127.0.0.1:3000/cb", "http://evil.example/cb"]}),
            "invalid_redirect_uri",
            "http://evil.example/cb",
        ),
        (
            json!({"redirect_uris": [good, "cursor://anysphere.cursor-retrieval/oauth/callback"]}),
            "invalid_redirect_uri",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
            "javascript:alert(1)",
        ),
        (
            json!({"client_name": "No URIs"}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": []}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [good, good]}),
            "invalid_redirect_uri",
            "listed twice",
        ),
        (
            json!({"redirect_uris": [good], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"redirect_uris": [good], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            json!({"redirect_uris": [good], "response_types": ["token"]}),
            "invalid_client_metadata",
            "response_types",
        ),
        (
            json!({"redirect_uris": [good], "client_name": ["not", "text"]}),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            json!({"redirect_uris": [good], "client_name": "x".repeat(101)}),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            json!({"redirect_uris": [good], "logo_uri": "javascript:alert(1)"}),
            "invalid_client_metadata",
            "logo_uri",
        ),
        (
            json!({"redirect_uris": [good], "scope": "admin:everything"}),
            "invalid_client_metadata",
            "scope",
        ),
        (
            json!({"redirect_uris": [good], "id_token_signed_response_alg": "HS256"}),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
    ];
    for (body, code, mentions) in cases {
        let (status, answer, headers) = register(&app, &body, None).await;
        assert_error(status, &answer, 400, code, mentions);
        assert_eq!(headers["cache-control"], "no-store");
    }
    // Nothing was stored by any of them.
    let (_, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["origin"] == "operator"),
        "{listed}"
    );
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("application/json", "[\"an array\"]"),
        ("application/json", ""),
        (
            "application/x-www-form-urlencoded",
            "redirect_uris=https://app.example/cb",
        ),
    ] {
        let response = app
            .http
            .post(endpoint(&app))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = read_json(response).await;
        assert_error(status, &answer, 400, "invalid_client_metadata", "JSON");
    }
    let oversize = json!({"redirect_uris": [good], "client_name": "x", "padding": "y".repeat(70_000)});
    let response = app
        .http
        .post(endpoint(&app))
        .json(&oversize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

async fn unknown_fields_are_ignored_and_policy_scopes_applied(backend: Backend) {
    let app = spawn(backend, "open", |raw| {
        raw.oauth.registration_scopes = Some(vec!["openid".into(), "email".into(), "cases:read".into()]);
    })
    .await;
    let body = json!({
        "redirect_uris": ["http://localhost:8765/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "client_name": "VS Code",
        "scope": "openid email cases:write admin:all",
        "contacts": ["someone@example.com"],
        "tos_uri": 42,
        "x-vendor": {"nested": [1, 2, {"deep": null}]},
        "application_type": "native",
    });
    let (status, registered, _) = register(&app, &body, None).await;
    assert_eq!(status, 201, "{registered}");
    // RFC 7591 §2: what the policy does not allow is dropped.
    assert_eq!(registered["scope"], "openid email");
    for ignored in ["contacts", "tos_uri", "x-vendor", "application_type"] {
        assert!(registered.get(ignored).is_none(), "{ignored} echoed");
    }
    // No scope asked for: every scope the policy allows.
    let (status, defaulted, _) = register(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Default"}),
        None,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(defaulted["scope"], "openid email cases:read");
    assert_eq!(defaulted["token_endpoint_auth_method"], "client_secret_basic");
    // Without a client_name, the redirect host names the app.
    let (_, unnamed, _) = register(
        &app,
        &json!({"redirect_uris": ["https://tools.example/cb"]}),
        None,
    )
    .await;
    assert_eq!(unnamed["client_name"], "tools.example");
}

async fn private_use_schemes_are_accepted_only_when_allowed(backend: Backend) {
    let app = spawn(backend, "open", |raw| {
        raw.oauth.registration_private_use_schemes = Some(vec!["cursor".into(), "com.example.*".into()]);
    })
    .await;
    let body = json!({
        "client_name": "Cursor",
        "redirect_uris": [
            "cursor://anysphere.cursor-retrieval/oauth/user-mcp/callback",
            "com.example.app:/oauth2redirect",
        ],
        "token_endpoint_auth_method": "none",
    });
    let (status, registered, _) = register(&app, &body, None).await;
    assert_eq!(status, 201, "{registered}");
    for refused in [
        "vscode://vscode.github-authentication/did-authenticate",
        "org.other.app:/cb",
    ] {
        let (status, answer, _) = register(&app, &json!({"redirect_uris": [refused]}), None).await;
        assert_error(status, &answer, 400, "invalid_redirect_uri", refused);
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains("private-use")
        );
    }
    // The authorization answer goes to the private-use URI.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", registered["client_id"].as_str().unwrap()),
            ("redirect_uri", "com.example.app:/oauth2redirect"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    );
    let (consent, location) = approve(&app, &url).await;
    assert!(consent.contains("has not verified this app"));
    assert!(
        location.starts_with("com.example.app:/oauth2redirect?code="),
        "{location}"
    );
}

async fn registration_is_read_replaced_and_deleted_with_its_token(backend: Backend) {
    let app = open_app(backend).await;
    let body = json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none",
        "scope": "openid email profile",
    });
    let (_, registered, _) = register(&app, &body, None).await;
    let uri = registered["registration_client_uri"].as_str().unwrap().to_owned();
    let token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();

    // Read: the registered metadata and the same token and URI.
    let (status, text, headers) = manage(&app, Method::GET, &uri, Some(&token), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["cache-control"], "no-store");
    let read: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(read, registered);

    // Refusals without the right token: 401 invalid_token, with a challenge.
    let (_, other, _) = register(&app, &body, None).await;
    let other_token = other["registration_access_token"].as_str().unwrap();
    let missing_client = format!("{}/client_doesnotexist", endpoint(&app));
    for (method, target, presented) in [
        (Method::GET, uri.as_str(), None),
        (Method::GET, uri.as_str(), Some("reg_wrong")),
        (Method::GET, uri.as_str(), Some(other_token)),
        (Method::GET, missing_client.as_str(), Some(token.as_str())),
        (Method::PUT, uri.as_str(), None),
        (Method::PUT, uri.as_str(), Some(other_token)),
        (Method::DELETE, uri.as_str(), None),
        (Method::DELETE, uri.as_str(), Some("reg_wrong")),
    ] {
        let (status, text, headers) = manage(&app, method.clone(), target, presented, Some(&body)).await;
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_error(status, &answer, 401, "invalid_token", "");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\""),
            "{method} {target}"
        );
    }

    // Use it once, so there is a grant for the delete to end.
    let (access_token, _) =
        code_flow(&app, &client_id, None, "https://claude.ai/api/mcp/auth_callback").await;
    assert_eq!(app.userinfo_status(&access_token).await, 200);

    // Update: the new metadata replaces the old, under the same rules.
    let replacement = json!({
        "client_id": client_id,
        "client_name": "Claude (renamed)",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "http://localhost:6274/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "scope": "openid",
        "registration_access_token": "ignored",
    });
    let (status, text, _) = manage(&app, Method::PUT, &uri, Some(&token), Some(&replacement)).await;
    assert_eq!(status, 200, "{text}");
    let updated: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(updated["client_name"], "Claude (renamed)");
    assert_eq!(updated["scope"], "openid");
    assert_eq!(updated["redirect_uris"], replacement["redirect_uris"]);
    assert_eq!(updated["registration_access_token"], token);
    assert!(updated.get("client_uri").is_none());
    let stored = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Claude (renamed)");
    for (bad, code, mentions) in [
        (
            json!({"redirect_uris": ["https://claude.ai/cb", "http://evil.example/cb"]}),
            "invalid_redirect_uri",
            "http://evil.example/cb",
        ),
        (
            json!({"client_id": "client_other", "redirect_uris": ["https://claude.ai/cb"]}),
            "invalid_client_metadata",
            "client_id",
        ),
        (
            json!({"redirect_uris": ["https://claude.ai/cb"], "token_endpoint_auth_method": "client_secret_post"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"redirect_uris": ["https://claude.ai/cb"], "client_secret": "secret_chosen"}),
            "invalid_client_metadata",
            "client_secret",
        ),
    ] {
        let (status, text, _) = manage(&app, Method::PUT, &uri, Some(&token), Some(&bad)).await;
        assert_error(status, &serde_json::from_str(&text).unwrap(), 400, code, mentions);
    }
    let unchanged = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(
        unchanged.redirect_uris, stored.redirect_uris,
        "a refused update changes nothing"
    );

    // Delete: 204, the client and its grants are gone, the token opens nothing.
    let (status, text, _) = manage(&app, Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(app.userinfo_status(&access_token).await, 401, "its tokens end");
    let (status, _, _) = manage(&app, Method::GET, &uri, Some(&token), None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .admin(Method::GET, &format!("/oauth-clients/{client_id}"), None)
        .await;
    assert_eq!(status, 404);
    let audit = app.admin(Method::GET, "/audit-events", None).await.1;
    for action in ["client.registration_updated", "client.deleted"] {
        assert!(
            audit["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action
                    && e["clientId"] == client_id
                    && e["actor"] == format!("client:{client_id}")),
            "{action} not audited: {audit}"
        );
    }
    assert!(!audit.to_string().contains(&token), "no token in the audit log");
}

async fn initial_access_tokens_guard_registration(backend: Backend) {
    let app = spawn(backend, "initial_access_token", |_| {}).await;
    let body = json!({"client_name": "Agent", "redirect_uris": ["https://agent.example/cb"]});
    let (status, answer, headers) = register(&app, &body, None).await;
    assert_error(status, &answer, 401, "invalid_token", "initial access token");
    assert!(headers.contains_key("www-authenticate"));
    let (status, answer, _) = register(&app, &body, Some("iat_wrong")).await;
    assert_error(status, &answer, 401, "invalid_token", "not valid");

    // One use.
    let (status, created) = app
        .admin(
            Method::POST,
            "/initial-access-tokens",
            Some(json!({"name": "Partner onboarding", "maxUses": 1, "expiresInSeconds": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let single = created["data"]["token"].as_str().unwrap().to_owned();
    assert!(single.starts_with("iat_"));
    let (status, registered, _) = register(&app, &body, Some(&single)).await;
    assert_eq!(status, 201, "{registered}");
    let (status, answer, _) = register(&app, &body, Some(&single)).await;
    assert_error(status, &answer, 401, "invalid_token", "as many registrations");
    let (_, listed) = app.admin(Method::GET, "/initial-access-tokens", None).await;
    assert_eq!(listed["data"][0]["uses"], 1);
    assert!(listed["data"][0].get("token").is_none(), "never shown again");
    assert!(!listed.to_string().contains(&single));

    // Revoked.
    let (_, created) = app
        .admin(
            Method::POST,
            "/initial-access-tokens",
            Some(json!({"name": "Revoked"})),
        )
        .await;
    let (id, revoked) = (
        created["data"]["id"].as_str().unwrap().to_owned(),
        created["data"]["token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(register(&app, &body, Some(&revoked)).await.0, 201);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/initial-access-tokens/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, answer, _) = register(&app, &body, Some(&revoked)).await;
    assert_error(status, &answer, 401, "invalid_token", "revoked");
    let (status, _) = app
        .admin(Method::DELETE, &format!("/initial-access-tokens/{id}"), None)
        .await;
    assert_eq!(status, 404, "revoked once");

    // Expired: issued with a lifetime that is already over.
    let now = latchkey::unix_now();
    let (_, expired) = latchkey::clients::initial_access::create(
        app.state.store.as_ref(),
        &app.state.config,
        latchkey::clients::initial_access::NewToken {
            name: "Old".into(),
            expires_in: Some(60),
            max_uses: None,
        },
        &latchkey::audit::Actor::Cli,
        now - 120,
    )
    .await
    .unwrap();
    let (status, answer, _) = register(&app, &body, Some(expired.expose())).await;
    assert_error(status, &answer, 401, "invalid_token", "expired");

    // Bad input to the admin API names the field.
    for (bad, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "maxUses": 0}), "maxUses"),
        (json!({"name": "x", "expiresInSeconds": 0}), "expiresInSeconds"),
    ] {
        let (status, answer) = app.admin(Method::POST, "/initial-access-tokens", Some(bad)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], field);
    }

    // The CLI issues, lists and revokes them too.
    let output = app.cli(
        &[
            "initial-access-tokens",
            "create",
            "--name",
            "From the CLI",
            "--max-uses",
            "2",
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let value = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (cli_id, cli_token) = (value("id:"), value("token:"));
    assert_eq!(register(&app, &body, Some(&cli_token)).await.0, 201);
    let listed = String::from_utf8(app.cli(&["initial-access-tokens", "list"], None).stdout).unwrap();
    assert!(
        listed.contains(&cli_id) && listed.contains("From the CLI"),
        "{listed}"
    );
    assert!(!listed.contains(&cli_token));
    let output = app.cli(&["initial-access-tokens", "revoke", &cli_id], None);
    assert!(output.status.success(), "{output:?}");
    let (status, _, _) = register(&app, &body, Some(&cli_token)).await;
    assert_eq!(status, 401);
}

async fn registration_is_off_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, answer, _) =
        register(&app, &json!({"redirect_uris": ["https://app.example/cb"]}), None).await;
    assert_eq!(status, 404, "{answer}");
    let (status, _, _) = manage(
        &app,
        Method::GET,
        &format!("{}/client_x", endpoint(&app)),
        Some("reg_x"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    for document in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (_, metadata) = app.get_json(document).await;
        assert!(metadata.get("registration_endpoint").is_none(), "{document}");
    }
    let on = open_app(backend).await;
    for document in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (_, metadata) = on.get_json(document).await;
        assert_eq!(metadata["registration_endpoint"], endpoint(&on), "{document}");
    }
    // Operators' clients come from the admin API with their origin.
    let created = app.create_client(client_body()).await;
    assert_eq!(created["origin"], "operator");
}

async fn registration_is_rate_limited_per_client_ip(backend: Backend) {
    let app = spawn(backend, "open", |raw| {
        raw.rate_limits.register_per_minute = Some(2)
    })
    .await;
    let body = json!({"redirect_uris": ["https://app.example/cb"]});
    for _ in 0..2 {
        assert_eq!(register(&app, &body, None).await.0, 201);
    }
    let response = app.http.post(endpoint(&app)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "rate_limit_exceeded");
}

async fn unused_registrations_are_purged(backend: Backend) {
    let app = spawn(backend, "open", |raw| {
        raw.oauth.registration_unused_lifetime_seconds = Some(3600);
    })
    .await;
    let body = |name: &str| json!({"client_name": name, "redirect_uris": [LOOPBACK], "token_endpoint_auth_method": "none"});
    let (_, unused, _) = register(&app, &body("Unused"), None).await;
    let (_, used, _) = register(&app, &body("Used"), None).await;
    let operator = app.create_client(client_body()).await;
    code_flow(
        &app,
        used["client_id"].as_str().unwrap(),
        None,
        LOOPBACK_AT_REQUEST,
    )
    .await;

    let store = app.state.store.as_ref();
    let config = &app.state.config;
    let now = latchkey::unix_now();
    let purge = |at: i64| latchkey::clients::registration::purge_unused(store, config, at);
    assert_eq!(purge(now + 60).await.unwrap(), 0, "within the lifetime");
    assert_eq!(purge(now + 3601).await.unwrap(), 1);
    assert_eq!(
        read_status(&app, &unused).await,
        401,
        "the unused registration is gone"
    );
    assert_eq!(read_status(&app, &used).await, 200, "the used one stays");
    let (status, _) = app
        .admin(
            Method::GET,
            &format!("/oauth-clients/{}", operator["clientId"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200, "operators' clients are never purged");
    let audit = app.admin(Method::GET, "/audit-events", None).await.1;
    assert!(audit.to_string().contains("client.unused_registrations_purged"));
}

/// What reading a registration with its own token answers.
async fn read_status(app: &TestApp, registered: &Value) -> u16 {
    let uri = registered["registration_client_uri"].as_str().unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    manage(app, Method::GET, uri, Some(token), None).await.0
}

async fn registered_clients_must_use_pkce_with_s256(backend: Backend) {
    let app = open_app(backend).await;
    let (_, registered, _) = register(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"}),
        None,
    )
    .await;
    let client_id = registered["client_id"].as_str().unwrap();
    let verifier = "a".repeat(43);
    for (params, mentions) in [
        (vec![], "code_challenge is required"),
        (
            vec![
                ("code_challenge", verifier.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "S256",
        ),
        (vec![("code_challenge", verifier.as_str())], "S256"),
    ] {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "https://app.example/cb"),
            ("state", "s"),
        ];
        query.extend(params);
        let page = UserAgent::new(&app.base_url)
            .get(&authorize_url(&app, &query))
            .await;
        let location = page.location.expect("redirected with the error");
        let answer = query_of(&location);
        assert_eq!(answer["error"], "invalid_request", "{location}");
        assert!(answer["error_description"].contains(mentions), "{location}");
    }
}
