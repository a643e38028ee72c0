//! What the minted tokens look like: an ID token on refresh only when
//! configured (`tokens.id_token_on_refresh`), the signing algorithms, and
//! the size of access tokens under both example configurations.

use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::relying_party::jwt_claims;
use crate::seed_integrations::{obtain_code, register, token_form};

backend_tests!(
    refresh_carries_no_id_token_by_default,
    refresh_carries_a_verifiable_id_token_when_configured,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A client of alice's with a code-exchange response; returns (client id,
/// secret, tokens).
async fn code_exchange(app: &TestApp, scopes: &[&str]) -> (String, String, Value) {
    let (client_id, secret) = register(app, &[REDIRECT], scopes).await;
    let scope = scopes.join(" ");
    let code = obtain_code(
        app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", &scope),
        ],
    )
    .await;
    let (status, tokens, _) = token_form(
        app,
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
    (client_id, secret, tokens)
}

async fn refresh(app: &TestApp, client_id: &str, secret: &str, tokens: &Value) -> Value {
    let (status, refreshed, _) = token_form(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    refreshed
}

/// The key set of the published JWKS, as a relying party would build it.
async fn published_keys(app: &TestApp) -> latchkey_verify::KeySet {
    let jwks = app
        .http
        .get(app.url(&app.state.config.paths.jwks))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    latchkey_verify::KeySet::from_jwks(&jwks).unwrap()
}

async fn refresh_carries_no_id_token_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    assert!(!app.state.config.tokens.id_token_on_refresh);
    let (client_id, secret, tokens) = code_exchange(&app, &["openid", "email", "cases:read"]).await;
    assert!(tokens["id_token"].is_string(), "the code exchange has one");
    let refreshed = refresh(&app, &client_id, &secret, &tokens).await;
    assert!(refreshed["access_token"].is_string());
    assert!(
        refreshed.get("id_token").is_none(),
        "no ID token on refresh: {refreshed}"
    );
}

async fn refresh_carries_a_verifiable_id_token_when_configured(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| raw.tokens.id_token_on_refresh = Some(true))),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let (client_id, secret, tokens) = code_exchange(&app, &["openid", "email", "cases:read"]).await;
    let first = jwt_claims(tokens["id_token"].as_str().unwrap());
    let refreshed = refresh(&app, &client_id, &secret, &tokens).await;
    let id_token = refreshed["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an ID token on refresh: {refreshed}"));
    let (typ, claims) = published_keys(&app).await.verify(id_token).unwrap();
    assert_eq!(typ.as_deref(), Some("JWT"));
    assert_eq!(claims["sub"], first["sub"]);
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["iss"], app.state.config.issuer.as_str());
    assert_eq!(
        claims["auth_time"], first["auth_time"],
        "OpenID Connect Core §12.2"
    );
    assert!(claims.get("at_hash").is_some());
}
