//! Token lifecycle (SPEC 5, 6, 7): refresh rotation with replay detection
//! and its grace window, code replay, revocation, introspection, immediate
//! revocation across instances, Connected Apps, app disable/enable/delete
//! and secret rotation, the audit log, and housekeeping.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, ServerProcess, TestApp};
use crate::seed_integrations::{authorize_url, obtain_code, register, token_form};
use crate::user_agent::{ALICE, UserAgent, hidden_inputs};

backend_tests!(
    without_grace_replaying_a_rotated_refresh_token_revokes_the_whole_grant,
    retry_inside_the_window_succeeds_and_both_successors_work,
    the_window_survives_two_concurrent_refreshes_with_one_token,
    replay_after_the_window_revokes_the_grant,
    revoked_grant_answers_invalid_grant_inside_the_window,
    without_grace_concurrent_refreshes_exactly_one_succeeds,
    code_used_twice_revokes_tokens_from_first_use,
    revocation_endpoint_follows_rfc_7009,
    introspection_reports_active_tokens_only,
    introspection_refuses_public_clients,
    revocation_on_one_instance_is_in_force_on_another,
    revocation_in_one_server_process_is_in_force_in_another,
    connected_apps_revoke_ends_tokens_and_asks_consent_again,
    disable_ends_tokens_enable_revives_none_delete_removes_all,
    secret_rotation_keeps_every_connection,
    housekeeping_purges_what_expired,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A confidential client with a fresh token response for alice.
struct Issued {
    client_id: String,
    secret: String,
    tokens: Value,
}

impl Issued {
    fn access(&self) -> &str {
        self.tokens["access_token"].as_str().unwrap()
    }

    fn refresh(&self) -> &str {
        self.tokens["refresh_token"].as_str().unwrap()
    }
}

async fn issue(app: &TestApp) -> Issued {
    let (client_id, secret) = register(app, &[REDIRECT], &["openid", "email", "cases:read"]).await;
    let tokens = exchange_new_code(app, &client_id, &secret).await;
    Issued {
        client_id,
        secret,
        tokens,
    }
}

async fn exchange_new_code(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let code = obtain_code(
        app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let (status, tokens, _) = token_form(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn refresh(app: &TestApp, issued: &Issued, token: &str) -> (u16, Value) {
    let (status, body, _) = token_form(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &issued.client_id),
            ("client_secret", &issued.secret),
        ],
    )
    .await;
    (status, body)
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let (status, events) = app.admin(Method::GET, "/audit-events?limit=100", None).await;
    assert_eq!(status, 200, "{events}");
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// A server whose refresh tokens have no grace window: every reuse of a
/// rotated token is theft.
async fn spawn_without_grace(backend: Backend) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(|raw| raw.tokens.refresh_token_grace_seconds = Some(0))),
        ..Options::default()
    };
    TestApp::spawn_with(backend, options).await
}

/// A server with the example configurations' 30-second grace window.
async fn spawn_with_grace(backend: Backend) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(|raw| raw.tokens.refresh_token_grace_seconds = Some(30))),
        ..Options::default()
    };
    TestApp::spawn_with(backend, options).await
}

/// A refresh through the domain function at a chosen time, as the token
/// endpoint would run it.
async fn refresh_at(
    app: &TestApp,
    issued: &Issued,
    token: &str,
    now: i64,
) -> Result<latchkey::oauth::token::TokenResponse, latchkey::oauth::error::OAuthError> {
    let store = app.state.store.as_ref();
    let client = store.find_client(&issued.client_id).await.unwrap().unwrap();
    let ring = app.state.keys.ring();
    let token = latchkey::secret::Secret::new(token);
    let grant = latchkey::grants::exchange::RefreshGrant {
        refresh_token: &token,
        scope: None,
        resources: &[],
    };
    let metrics = app.state.metrics.as_ref();
    latchkey::grants::exchange::refresh_token(store, &app.state.config, &ring, metrics, &client, grant, now)
        .await
}

/// When the presented refresh token was rotated, from the database.
async fn rotated_at(app: &TestApp, token: &str) -> i64 {
    let digest = latchkey::secret::Secret::new(token).digest();
    let record = app.state.store.find_refresh_token(&digest).await.unwrap();
    record.and_then(|r| r.used_at).expect("the token was rotated")
}

async fn without_grace_replaying_a_rotated_refresh_token_revokes_the_whole_grant(backend: Backend) {
    let app = spawn_without_grace(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let (status, rotated) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 200);
    let new_access = rotated["access_token"].as_str().unwrap();
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_eq!(app.userinfo_status(new_access).await, 200);

    let (status, replay) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")));
    // Every token of the grant is dead now: both access tokens and the successor.
    assert_eq!(app.userinfo_status(new_access).await, 401);
    assert_eq!(app.userinfo_status(issued.access()).await, 401);
    let (status, _) = refresh(&app, &issued, new_refresh).await;
    assert_eq!(status, 400);
    assert!(
        audit_actions(&app)
            .await
            .contains(&"refresh_token.replayed".to_owned())
    );
    let events = app.state.store.list_audit_events(100).await.unwrap();
    let text = serde_json::to_string(&events.iter().map(|e| e.details.clone()).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains(issued.refresh()), "no secret in the audit log");
}

/// A client whose refresh committed but whose answer was lost retries with
/// the same token: with the examples' 30-second window it gets an answer
/// like the first, and both successors work.
async fn retry_inside_the_window_succeeds_and_both_successors_work(backend: Backend) {
    let app = spawn_with_grace(backend).await;
    app.seed_demo().await;
    assert_eq!(
        app.state.config.tokens.refresh_token_grace,
        std::time::Duration::from_secs(30)
    );
    let issued = issue(&app).await;
    let (status, first) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 200, "{first}");
    let (status, retry) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(
        status, 200,
        "a retry inside the grace window gets tokens: {retry}"
    );
    assert_ne!(first["refresh_token"], retry["refresh_token"]);
    assert_eq!(first["scope"], retry["scope"]);
    let digest = latchkey::secret::Secret::new(issued.refresh()).digest();
    let original = app
        .state
        .store
        .find_refresh_token(&digest)
        .await
        .unwrap()
        .unwrap();
    for answer in [&first, &retry] {
        assert_eq!(
            app.userinfo_status(answer["access_token"].as_str().unwrap())
                .await,
            200
        );
        // Same scopes and the same absolute expiry as the rotated token.
        let successor = introspect(&app, &issued, answer["refresh_token"].as_str().unwrap()).await;
        assert_eq!(successor["active"], true, "{successor}");
        assert_eq!(successor["scope"], "openid email cases:read");
        assert_eq!(successor["exp"], original.expires_at, "one absolute expiry");
    }
    for answer in [&first, &retry] {
        let (status, next) = refresh(&app, &issued, answer["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "each successor works: {next}");
    }
    assert_eq!(
        app.userinfo_status(issued.access()).await,
        200,
        "the grant lives on"
    );
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"refresh_token.retried".to_owned()),
        "{actions:?}"
    );
    assert!(
        !actions.contains(&"refresh_token.replayed".to_owned()),
        "{actions:?}"
    );
}

/// An integration that refreshes twice at once with one token (the
/// Salesforce code can) keeps its connection with the examples' window.
async fn the_window_survives_two_concurrent_refreshes_with_one_token(backend: Backend) {
    let app = spawn_with_grace(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let (one, two) = tokio::join!(
        refresh(&app, &issued, issued.refresh()),
        refresh(&app, &issued, issued.refresh())
    );
    for (status, body) in [&one, &two] {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            app.userinfo_status(body["access_token"].as_str().unwrap()).await,
            200
        );
    }
    assert_ne!(one.1["refresh_token"], two.1["refresh_token"]);
    for (_, body) in [&one, &two] {
        let (status, next) = refresh(&app, &issued, body["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "each successor works: {next}");
    }
    assert_eq!(
        app.userinfo_status(issued.access()).await,
        200,
        "the grant is live"
    );
}

/// Outside the window a replay is theft: the grant is revoked. Time is
/// controlled by calling the grant with a chosen `now`.
async fn replay_after_the_window_revokes_the_grant(backend: Backend) {
    let app = spawn_with_grace(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let (status, first) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 200, "{first}");
    let used_at = rotated_at(&app, issued.refresh()).await;
    let last_moment = refresh_at(&app, &issued, issued.refresh(), used_at + 30).await;
    assert!(
        last_moment.is_ok(),
        "30 s after rotation is still a retry: {last_moment:?}"
    );
    let late = refresh_at(&app, &issued, issued.refresh(), used_at + 31)
        .await
        .unwrap_err();
    assert_eq!(late.code.as_str(), "invalid_grant", "{late}");
    // The whole grant is gone: the successor, and every access token.
    let (status, body) = refresh(&app, &issued, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        app.userinfo_status(first["access_token"].as_str().unwrap()).await,
        401
    );
    assert_eq!(app.userinfo_status(issued.access()).await, 401);
    assert!(
        audit_actions(&app)
            .await
            .contains(&"refresh_token.replayed".to_owned())
    );
}

/// A revoked grant stays revoked: a retry inside the window cannot revive it.
async fn revoked_grant_answers_invalid_grant_inside_the_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let (status, first) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 200, "{first}");
    let response = revoke(&app, &issued, first["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(response.status(), 200);
    let (status, retry) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(
        (status, retry["error"].as_str()),
        (400, Some("invalid_grant")),
        "{retry}"
    );
    assert_eq!(
        app.userinfo_status(first["access_token"].as_str().unwrap()).await,
        401
    );
}

async fn without_grace_concurrent_refreshes_exactly_one_succeeds(backend: Backend) {
    let app = spawn_without_grace(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let http = app.http.clone();
        let url = app.url("/api/oauth/token");
        let form = [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), issued.refresh().to_owned()),
            ("client_id".to_owned(), issued.client_id.clone()),
            ("client_secret".to_owned(), issued.secret.clone()),
        ];
        attempts.spawn(async move {
            let response = http.post(url).form(&form).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        });
    }
    let results = attempts.join_all().await;
    let successes = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(successes, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
}

async fn code_used_twice_revokes_tokens_from_first_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email"]).await;
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, first, _) = token_form(&app, &form).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.userinfo_status(first["access_token"].as_str().unwrap()).await,
        200
    );
    let (status, second, _) = token_form(&app, &form).await;
    assert_eq!((status, second["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        app.userinfo_status(first["access_token"].as_str().unwrap()).await,
        401
    );
    let issued = Issued {
        client_id,
        secret,
        tokens: first,
    };
    let (status, _) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 400);
    assert!(audit_actions(&app).await.contains(&"code.replayed".to_owned()));
}

async fn revoke(app: &TestApp, issued: &Issued, token: &str, hint: Option<&str>) -> reqwest::Response {
    let mut form = vec![("token", token)];
    if let Some(hint) = hint {
        form.push(("token_type_hint", hint));
    }
    app.http
        .post(app.url("/api/oauth/revoke"))
        .basic_auth(&issued.client_id, Some(&issued.secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn revocation_endpoint_follows_rfc_7009(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;

    // Unknown tokens: 200 with an empty body.
    let response = revoke(&app, &issued, "refresh_not-a-token", Some("refresh_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.text().await.unwrap().is_empty());

    // Another client cannot revoke this client's tokens.
    let other = issue(&app).await;
    assert_eq!(revoke(&app, &other, issued.refresh(), None).await.status(), 200);
    assert_eq!(revoke(&app, &other, issued.access(), None).await.status(), 200);
    assert_eq!(app.userinfo_status(issued.access()).await, 200);

    // Revoking an access token ends that token only.
    assert_eq!(
        revoke(&app, &issued, issued.access(), Some("access_token"))
            .await
            .status(),
        200
    );
    assert_eq!(app.userinfo_status(issued.access()).await, 401);
    let (status, rotated) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 200, "the grant lives on: {rotated}");
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo_status(access).await, 200);

    // Revoking a refresh token (no hint) ends the grant's access tokens too.
    let refresh_token = rotated["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(&app, &issued, refresh_token, None).await.status(), 200);
    assert_eq!(app.userinfo_status(access).await, 401);
    let (status, _) = refresh(&app, &issued, refresh_token).await;
    assert_eq!(status, 400);
    assert!(audit_actions(&app).await.contains(&"grant.revoked".to_owned()));

    // Client authentication is required.
    let response = app
        .http
        .post(app.url("/api/oauth/revoke"))
        .form(&[("token", issued.access())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .http
        .post(app.url("/api/oauth/revoke"))
        .basic_auth(&issued.client_id, Some("secret_wrong"))
        .form(&[("token", issued.access())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));

    // A public client revokes with its client_id alone.
    let public = app
        .create_client(json!({"name": "SPA", "redirectUris": [REDIRECT], "allowed_scopes": ["openid"], "tokenEndpointAuthMethod": "none"}))
        .await;
    let public_id = public["clientId"].as_str().unwrap();
    let response = app
        .http
        .post(app.url("/api/oauth/revoke"))
        .form(&[("token", "whatever"), ("client_id", public_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn introspect(app: &TestApp, issued: &Issued, token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/api/oauth/introspect"))
        .basic_auth(&issued.client_id, Some(&issued.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn introspection_reports_active_tokens_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let active = introspect(&app, &issued, issued.access()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], issued.client_id.as_str());
    assert_eq!(active["scope"], "openid email cases:read");
    assert_eq!(active["firm_id"], "3f1c2a10-5b7e-4c1d-9a00-00000000ac01");
    assert!(active["sub"].is_string() && active["exp"].is_i64() && active["iat"].is_i64());
    let refresh_info = introspect(&app, &issued, issued.refresh()).await;
    assert_eq!(refresh_info["active"], true);
    assert_eq!(refresh_info["token_type"], "refresh_token");
    assert_eq!(
        refresh_info["scope"], "openid email cases:read",
        "in vocabulary order, as the token response has it"
    );

    let other = issue(&app).await;
    assert_eq!(
        introspect(&app, &other, issued.refresh()).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &issued, "garbage").await,
        json!({"active": false})
    );
    revoke(&app, &issued, issued.refresh(), None).await;
    assert_eq!(
        introspect(&app, &issued, issued.access()).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &issued, issued.refresh()).await,
        json!({"active": false})
    );

    let response = app
        .http
        .post(app.url("/api/oauth/introspect"))
        .form(&[("token", issued.access())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (_, metadata) = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        metadata["introspection_endpoint"],
        app.url("/api/oauth/introspect")
    );
}

/// RFC 7662 §2.1: the caller must be authorized, and a public client cannot
/// authenticate; revocation (RFC 7009) still takes public clients.
async fn introspection_refuses_public_clients(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let public = app
        .create_client(json!({"name": "SPA", "redirectUris": [REDIRECT], "allowed_scopes": ["openid"], "tokenEndpointAuthMethod": "none"}))
        .await;
    let public_id = public["clientId"].as_str().unwrap();
    for token in [issued.access(), issued.refresh(), "garbage"] {
        let response = app
            .http
            .post(app.url("/api/oauth/introspect"))
            .form(&[("token", token), ("client_id", public_id)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("public client"), "{description}");
        assert!(body.get("active").is_none(), "nothing about the token: {body}");
    }
    // The token is untouched, and a confidential client is still answered.
    assert_eq!(introspect(&app, &issued, issued.access()).await["active"], true);
    let response = app
        .http
        .post(app.url("/api/oauth/revoke"))
        .form(&[("token", issued.access()), ("client_id", public_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "revocation still accepts public clients");
    let (_, metadata) = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        metadata["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        metadata["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

async fn revocation_on_one_instance_is_in_force_on_another(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    first.seed_demo().await;
    let second = first.second_instance(backend).await;
    let issued = issue(&first).await;
    assert_eq!(
        second.userinfo_status(issued.access()).await,
        200,
        "instance two honours instance one's token"
    );
    let (status, rotated) = refresh(&second, &issued, issued.refresh()).await;
    assert_eq!(
        status, 200,
        "instance two refreshes what instance one issued: {rotated}"
    );
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(first.userinfo_status(access).await, 200);
    let response = revoke(&first, &issued, rotated["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        second.userinfo_status(access).await,
        401,
        "revoked on one, refused on the other at once"
    );
    assert_eq!(
        introspect(&second, &issued, access).await,
        json!({"active": false})
    );
}

/// The second instance is a separate `latchkey serve` process on the same
/// database and master key.
async fn revocation_in_one_server_process_is_in_force_in_another(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    first.seed_demo().await;
    let env = [
        ("LATCHKEY_DATABASE_URL", first.database.url.clone()),
        ("LATCHKEY_MASTER_KEY", first.master_key.to_base64()),
        ("LATCHKEY_ISSUER", first.state.config.issuer.clone()),
        ("LATCHKEY_ADMIN_API_KEYS", crate::helpers::ADMIN_KEY.to_owned()),
    ];
    let second = ServerProcess::start(&["serve"], &env);
    let issued = issue(&first).await;
    let userinfo = |base: &str| {
        let url = format!("{base}/api/oauth/userinfo");
        let http = first.http.clone();
        let token = issued.access().to_owned();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        userinfo(&second.base_url).await,
        200,
        "the other process honours the token"
    );
    let response = first
        .http
        .post(format!("{}/api/oauth/revoke", second.base_url))
        .basic_auth(&issued.client_id, Some(&issued.secret))
        .form(&[("token", issued.refresh())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "revoked through the other process");
    assert_eq!(userinfo(&first.base_url).await, 401, "refused here at once");
    assert_eq!(userinfo(&second.base_url).await, 401, "and there");
    assert!(second.terminate().success());
}

async fn connected_apps_revoke_ends_tokens_and_asks_consent_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent.get("/settings/connected-apps").await;
    let login = agent.follow(page).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let page = agent.follow(signed_in).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Salesforce Production") && page.body.contains("Acme Legal"),
        "{}",
        page.body
    );
    // What the app may do, as the consent screen said it, in vocabulary order.
    let can = [
        "Sign you in and know who you are",
        "See your email address",
        "Read cases, referrals, firms and routing",
    ];
    let at: Vec<usize> = can.iter().map(|text| page.body.find(text).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", page.body);
    assert!(
        page.body
            .contains("aria-label=\"Revoke Salesforce Production (Acme Legal)\"")
    );

    let (_, users) = app.admin(Method::GET, "/users", None).await;
    let alice = users["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, listed) = app
        .admin(Method::GET, &format!("/users/{alice}/connected-apps"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"][0]["clientId"], issued.client_id.as_str());

    // The Revoke button.
    let form: Vec<(String, String)> = hidden_inputs(&page.body);
    let after = agent.post_form("/settings/connected-apps/revoke", &form).await;
    assert_eq!(after.status, 303);
    let confirmed = agent.follow(after).await;
    assert!(
        confirmed
            .body
            .contains("Salesforce Production no longer has access.")
    );
    assert_eq!(
        app.userinfo_status(issued.access()).await,
        401,
        "tokens stop working at once"
    );
    let (status, _) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 400, "refresh tokens are gone");
    let stored = app
        .state
        .store
        .find_refresh_token(&latchkey::secret::Secret::new(issued.refresh()).digest())
        .await;
    assert!(stored.unwrap().is_none(), "refresh tokens are deleted");
    let page = agent.get("/settings/connected-apps").await;
    assert!(!page.body.contains("Salesforce Production"));

    // The next authorization asks for consent again.
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &issued.client_id),
            ("redirect_uri", REDIRECT),
        ],
    );
    let page = agent.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"decision\""));

    // The admin API revokes too.
    let again = exchange_new_code(&app, &issued.client_id, &issued.secret).await;
    let path = format!(
        "/users/{alice}/connected-apps/3f1c2a10-5b7e-4c1d-9a00-00000000ac01/{}",
        issued.client_id
    );
    let (status, body) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.userinfo_status(again["access_token"].as_str().unwrap()).await,
        401
    );
    let (status, _) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
}

async fn disable_ends_tokens_enable_revives_none_delete_removes_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let id = &issued.client_id;
    app.admin(Method::POST, &format!("/oauth-clients/{id}/disable"), None)
        .await;
    assert_eq!(app.userinfo_status(issued.access()).await, 401);
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", REDIRECT),
        ],
    );
    let page = UserAgent::new(&app.base_url).get(&url).await;
    assert_eq!(
        (page.status, page.location.is_none()),
        (400, true),
        "no new authorizations"
    );
    app.admin(Method::POST, &format!("/oauth-clients/{id}/enable"), None)
        .await;
    assert_eq!(
        app.userinfo_status(issued.access()).await,
        401,
        "enable does not revive tokens"
    );
    let (status, _) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(status, 400);
    let fresh = exchange_new_code(&app, id, &issued.secret).await;
    assert_eq!(
        app.userinfo_status(fresh["access_token"].as_str().unwrap()).await,
        200
    );
    app.admin(Method::DELETE, &format!("/oauth-clients/{id}"), None)
        .await;
    assert_eq!(
        app.userinfo_status(fresh["access_token"].as_str().unwrap()).await,
        401
    );
    let actions = audit_actions(&app).await;
    for action in [
        "client.disabled",
        "client.enabled",
        "client.deleted",
        "grant.created",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} missing from {actions:?}"
        );
    }
}

async fn secret_rotation_keeps_every_connection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let (_, rotated) = app
        .admin(
            Method::POST,
            &format!("/oauth-clients/{}/rotate-secret", issued.client_id),
            None,
        )
        .await;
    let new_secret = rotated["data"]["clientSecret"].as_str().unwrap().to_owned();
    let (status, body) = refresh(&app, &issued, issued.refresh()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "the old secret is dead"
    );
    let with_new = Issued {
        client_id: issued.client_id.clone(),
        secret: new_secret,
        tokens: issued.tokens.clone(),
    };
    let (status, body) = refresh(&app, &with_new, issued.refresh()).await;
    assert_eq!(status, 200, "the connection survives: {body}");
    assert_eq!(app.userinfo_status(issued.access()).await, 200);
    assert!(
        audit_actions(&app)
            .await
            .contains(&"client.secret_rotated".to_owned())
    );
}

async fn housekeeping_purges_what_expired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let issued = issue(&app).await;
    let response = revoke(&app, &issued, issued.access(), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.userinfo_status(issued.access()).await, 401);
    let store = app.state.store.as_ref();
    let far_future = latchkey::unix_now() + 100 * 24 * 3600;
    let counts = store
        .purge_expired(far_future, far_future, far_future)
        .await
        .unwrap();
    assert!(counts.authorization_codes >= 1, "{counts:?}");
    assert!(counts.refresh_tokens >= 1, "{counts:?}");
    assert!(counts.sessions >= 1, "{counts:?}");
    assert!(counts.revoked_access_tokens >= 1, "{counts:?}");
    assert!(counts.grants >= 1, "{counts:?}");
    assert!(counts.audit_events >= 1, "{counts:?}");
    let again = store
        .purge_expired(far_future, far_future, far_future)
        .await
        .unwrap();
    assert_eq!(again, latchkey::store::PurgeCounts::default());
}
