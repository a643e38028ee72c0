//! The integration guides' own requests, as they send them: the Salesforce
//! Apex handler (no PKCE, client_secret_post, form bodies, integer
//! `expires_in`, refresh), the ClientCasa curl examples (`offline_access`,
//! `rt_` refresh tokens, `organizationId`), and CaseXchange's JSON token
//! body with HTTP Basic.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp, example};
use crate::relying_party::jwt_claims;
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    salesforce_apex_flow_without_pkce_then_refresh,
    clientcasa_curl_examples_with_offline_access,
    clientcasa_without_offline_access_gets_no_refresh_token,
    casexchange_json_token_request_with_basic_auth,
);

pub const SALESFORCE_CALLBACK: &str = "https://YOUR-ORG.my.salesforce.com/apex/CXOAuthCallback";

/// Registers a client through the admin API; returns (client_id, secret).
pub async fn register(app: &TestApp, redirect_uris: &[&str], scopes: &[&str]) -> (String, String) {
    let body = json!({
        "name": "Salesforce Production",
        "description": "OAuth client for Salesforce Production Org",
        "redirectUris": redirect_uris,
        "allowed_scopes": scopes,
    });
    let data = app.create_client(body).await;
    (
        data["clientId"].as_str().unwrap().to_owned(),
        data["clientSecret"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Builds an authorization URL from `params` (already in the wire form).
pub fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}?{query}", app.url(&app.state.config.paths.authorize))
}

/// Signs alice in, approves, and returns the code from the redirect.
pub async fn obtain_code(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent
        .authorize(&authorize_url(app, params), ALICE, "approve", None)
        .await;
    let location = done
        .location
        .unwrap_or_else(|| panic!("no redirect: {} {}", done.status, done.body));
    let query = query_of(&location);
    query
        .get("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .clone()
}

/// Alice authorizes the client at `redirect_uri` (for `scope`, or what it
/// is allowed) and the client exchanges the code with its secret in the
/// form: the token response, which must be a success.
pub async fn code_exchange(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    redirect_uri: &str,
    scope: Option<&str>,
) -> Value {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
    ];
    params.extend(scope.map(|scope| ("scope", scope)));
    let code = obtain_code(app, &params).await;
    let (status, tokens, _) = token_form(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// POSTs a form to the token endpoint; returns (status, JSON, headers).
pub async fn token_form(app: &TestApp, fields: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

async fn salesforce_apex_flow_without_pkce_then_refresh(backend: Backend) {
    let options = Options {
        config_file: Some(example("casexchange.toml")),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let (client_id, secret) = register(
        &app,
        &[
            SALESFORCE_CALLBACK,
            "https://YOUR-ORG.lightning.force.com/apex/CXOAuthCallback",
        ],
        &["openid", "profile", "email", "cases:read", "cases:write"],
    )
    .await;
    let state = "q7bW2m1cXhQ0mKz9vZ+8Rg==";
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", SALESFORCE_CALLBACK),
            ("scope", "openid profile email cases:read cases:write"),
            ("state", state),
        ],
    )
    .await;
    let (status, tokens, headers) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SALESFORCE_CALLBACK),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens["expires_in"].as_i64(),
        Some(3600),
        "expires_in is an integer"
    );
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("refresh_"));
    assert_eq!(tokens["scope"], "openid email profile cases:read cases:write");
    assert!(tokens["id_token"].is_string());
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["role"], "FIRM_ADMIN");
    assert_eq!(access["client_id"], client_id.as_str());

    // The Apex refresh: form body with client_id and client_secret.
    let old_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed, _) = token_form(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["expires_in"].as_i64(), Some(3600));
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert!(new_refresh.starts_with("refresh_") && new_refresh != old_refresh);
    let userinfo = app
        .http
        .get(app.url("/api/oauth/userinfo"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    let (status, reused, _) = token_form(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    // The example sets a 30-second grace window: the Apex code refreshing
    // twice, or retrying a lost answer, keeps the connection.
    assert_eq!(status, 200, "a retry inside the window is answered: {reused}");
    assert_ne!(reused["refresh_token"], refreshed["refresh_token"]);
    assert_eq!(app.state.config.tokens.refresh_token_grace.as_secs(), 30);
}

fn pkce_pair() -> (String, String) {
    let verifier = latchkey::secret::generate_token("").expose().to_owned();
    let challenge = latchkey::secret::pkce_s256_challenge(&verifier);
    (verifier, challenge)
}

async fn clientcasa_curl_examples_with_offline_access(backend: Backend) {
    let options = Options {
        config_file: Some(example("clientcasa.toml")),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let redirect = "https://zapier.example/oauth/callback";
    let (client_id, secret) = register(
        &app,
        &[redirect],
        &["openid", "offline_access", "read:clients", "write:invoices"],
    )
    .await;
    let (verifier, challenge) = pkce_pair();
    let code = obtain_code(
        &app,
        &[
            ("client_id", &client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "openid offline_access read:clients write:invoices"),
            ("state", "csrf-state-token"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(
        tokens["scope"],
        "openid offline_access read:clients write:invoices"
    );
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.starts_with("rt_"), "{refresh}");
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["organizationId"], "3f1c2a10-5b7e-4c1d-9a00-00000000ac01");

    let (status, refreshed, _) = token_form(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed["refresh_token"].as_str().unwrap().starts_with("rt_"));
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    // A narrower scope on refresh applies to the access token.
    let (status, narrowed, _) = token_form(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refreshed["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "read:clients"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "read:clients");
    assert!(narrowed.get("id_token").is_none());
}

async fn clientcasa_without_offline_access_gets_no_refresh_token(backend: Backend) {
    let options = Options {
        config_file: Some(example("clientcasa.toml")),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let redirect = "https://zapier.example/oauth/callback";
    let (client_id, secret) = register(&app, &[redirect], &["openid", "read:clients"]).await;
    let (verifier, challenge) = pkce_pair();
    let code = obtain_code(
        &app,
        &[
            ("client_id", &client_id),
            ("response_type", "code"),
            ("scope", "openid read:clients"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["scope"], "openid read:clients");
}

async fn casexchange_json_token_request_with_basic_auth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let redirect = "https://yourapp.com/oauth/callback";
    let (client_id, secret) =
        register(&app, &[redirect], &["openid", "email", "profile", "cases:read"]).await;
    let (verifier, challenge) = pkce_pair();
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", redirect),
            ("scope", "openid email profile cases:read"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let response = app
        .http
        .post(app.url("/api/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .json(&json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid email profile cases:read");
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("refresh_"));
    let (status, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(status, 200);
    assert!(listed["data"].as_array().unwrap().len() >= 2);
}
