//! Refresh rotation that agents survive (issue 11): public clients'
//! refresh tokens rotate, the grace window is per client type
//! (`tokens.public_client_refresh_token_grace_seconds`, 30 by default, and
//! `tokens.refresh_token_grace_seconds` for confidential clients), and an
//! app's page in the dashboard lists the replays detected for it, with the
//! grant and user the audit log recorded.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::oauth_apps_pages::{ACME, signed_in};
use crate::seed_integrations::{obtain_code, token_form};
use crate::user_agent::ALICE;

backend_tests!(
    public_clients_rotate_and_have_their_own_grace_window,
    each_window_follows_its_own_key,
    replays_are_listed_on_the_app_page_with_grant_and_user,
);

const REDIRECT: &str = "https://agent.example/callback";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A client of Acme (public with `none`); (client id, secret if any).
async fn client(app: &TestApp, method: &str) -> (String, Option<String>) {
    let data = app
        .create_client(json!({
            "name": format!("Agent {method}"),
            "redirectUris": [REDIRECT],
            "allowed_scopes": ["openid", "offline_access", "cases:read"],
            "tokenEndpointAuthMethod": method,
            "organizationId": ACME,
        }))
        .await;
    (
        data["clientId"].as_str().unwrap().to_owned(),
        data["clientSecret"].as_str().map(str::to_owned),
    )
}

fn credentials(client: &(String, Option<String>)) -> Vec<(&str, &str)> {
    let mut fields = vec![("client_id", client.0.as_str())];
    if let Some(secret) = &client.1 {
        fields.push(("client_secret", secret.as_str()));
    }
    fields
}

/// Alice authorizes the client (with PKCE) and it exchanges the code.
async fn tokens(app: &TestApp, client: &(String, Option<String>)) -> Value {
    let code = obtain_code(
        app,
        &[
            ("response_type", "code"),
            ("client_id", &client.0),
            ("redirect_uri", REDIRECT),
            ("scope", "openid offline_access cases:read"),
            ("organization_id", ACME),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    fields.extend(credentials(client));
    let (status, tokens, _) = token_form(app, &fields).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn refresh(app: &TestApp, client: &(String, Option<String>), token: &str) -> (u16, Value) {
    let mut fields = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    fields.extend(credentials(client));
    let (status, body, _) = token_form(app, &fields).await;
    (status, body)
}

/// Refreshes, then presents the rotated token again at once: whether the
/// second presentation was answered as a retry (200) or as theft (400).
async fn second_presentation(app: &TestApp, client: &(String, Option<String>)) -> (u16, Value) {
    let first = tokens(app, client).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, rotated) = refresh(app, client, old).await;
    assert_eq!(status, 200, "{rotated}");
    let successor = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(successor, old, "the refresh token rotates");
    refresh(app, client, old).await
}

async fn public_clients_rotate_and_have_their_own_grace_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    assert_eq!(app.state.config.tokens.refresh_token_grace.as_secs(), 0);
    assert_eq!(
        app.state
            .config
            .tokens
            .public_client_refresh_token_grace
            .as_secs(),
        30
    );

    // A public client racing itself within 30 seconds: a retry.
    let public = client(&app, "none").await;
    assert!(public.1.is_none());
    let (status, retried) = second_presentation(&app, &public).await;
    assert_eq!(status, 200, "{retried}");
    assert!(retried["refresh_token"].is_string(), "{retried}");

    // A confidential client under the default 0: theft.
    let confidential = client(&app, "client_secret_post").await;
    let (status, refused) = second_presentation(&app, &confidential).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")));

    let (_, events) = app.admin(Method::GET, "/audit-events", None).await;
    let actions = |client_id: &str| -> Vec<String> {
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["clientId"] == client_id)
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(actions(&public.0).contains(&"refresh_token.retried".to_owned()));
    assert!(!actions(&public.0).contains(&"refresh_token.replayed".to_owned()));
    assert!(actions(&confidential.0).contains(&"refresh_token.replayed".to_owned()));
}

async fn each_window_follows_its_own_key(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            raw.tokens.refresh_token_grace_seconds = Some(30);
            raw.tokens.public_client_refresh_token_grace_seconds = Some(0);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let public = client(&app, "none").await;
    let (status, refused) = second_presentation(&app, &public).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")));
    let confidential = client(&app, "client_secret_basic").await;
    let (status, retried) = second_presentation(&app, &confidential).await;
    assert_eq!(status, 200, "{retried}");
}

async fn replays_are_listed_on_the_app_page_with_grant_and_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let confidential = client(&app, "client_secret_post").await;
    let page_path = format!("/settings/oauth-apps/{}", confidential.0);
    let (mut agent, _) = signed_in(&app, ALICE, &page_path).await;
    let page = agent.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Refresh token replays"), "{}", page.body);
    assert!(page.body.contains("None detected."));

    let (status, _) = second_presentation(&app, &confidential).await;
    assert_eq!(status, 400);
    let replayed = app
        .state
        .store
        .list_client_audit_events(&confidential.0, "refresh_token.replayed", 10)
        .await
        .unwrap();
    assert_eq!(replayed.len(), 1);
    let event = &replayed[0];
    let user_id = event.user_id.clone().expect("the replay names the grant's user");
    assert_eq!(event.organization_id.as_deref(), Some(ACME));
    let grant_id = event.grant_id.clone().unwrap();

    let page = agent.get(&page_path).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("None detected."), "{}", page.body);
    assert!(
        page.body.contains(&format!("<code>{grant_id}</code>")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("<code>{user_id}</code>")),
        "{}",
        page.body
    );
    assert!(page.body.contains(" UTC</td>"), "the time, to the minute");
}
