//! What the minted tokens look like: an ID token on refresh only when
//! configured (`tokens.id_token_on_refresh`), the signing algorithms, and
//! the size of access tokens under both example configurations.

use latchkey::config::Config;
use latchkey::grants::tokens::{self, Subject};
use latchkey::keys::{Alg, KeyRing};
use latchkey::oauth::scope::ScopeSet;
use latchkey::store::{OrganizationRecord, UserRecord};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::relying_party::jwt_claims;
use crate::seed_integrations::{code_exchange, register, token_form};

backend_tests!(
    refresh_carries_no_id_token_by_default,
    refresh_carries_a_verifiable_id_token_when_configured,
    es256_access_tokens_and_a_clients_eddsa_id_tokens_verify,
    an_unknown_id_token_alg_is_refused_naming_the_allowed_ones,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";

/// A client of alice's with a code-exchange response; returns (client id,
/// secret, tokens).
async fn registered_with_tokens(app: &TestApp, scopes: &[&str]) -> (String, String, Value) {
    let (client_id, secret) = register(app, &[REDIRECT], scopes).await;
    let tokens = code_exchange(app, &client_id, &secret, REDIRECT, Some(&scopes.join(" "))).await;
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
    let (client_id, secret, tokens) = registered_with_tokens(&app, &["openid", "email", "cases:read"]).await;
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
    let (client_id, secret, tokens) = registered_with_tokens(&app, &["openid", "email", "cases:read"]).await;
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
    assert_eq!(
        claims["amr"], first["amr"],
        "how the user authenticated, from the grant"
    );
    assert_eq!(claims["acr"], first["acr"]);
    assert!(claims["amr"].is_array(), "{claims:?}");
    assert!(claims.get("at_hash").is_some());
}

/// A realistic CaseXchange user: a 40-character email, a 30-character name,
/// a 40-character firm name, the longest role of the guide.
fn realistic_subject() -> Subject {
    let email = "jonathan.q.abernathy-whitfield@smith.law";
    let name = "Jonathan Abernathy-Whitfield Q";
    let firm = "Smith, Abernathy & Whitfield Trial Group";
    assert_eq!((email.len(), name.len(), firm.len()), (40, 30, 40));
    Subject {
        user: UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.into(),
            name: name.into(),
            email_verified: true,
            password_hash: String::new(),
            created_at: 0,
            updated_at: 0,
        },
        organization: OrganizationRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: firm.into(),
            created_at: 0,
        },
        role: Some("FIRM_ADMIN".into()),
    }
}

/// An access token for the realistic user under `config`, with the scopes
/// `openid email profile offline_access cases:read cases:write` that the
/// configuration's vocabulary has (CaseXchange has no `offline_access`).
fn realistic_access_token(config: &Config, ring: &KeyRing) -> String {
    let wanted = [
        "openid",
        "email",
        "profile",
        "offline_access",
        "cases:read",
        "cases:write",
    ];
    let scopes: Vec<&str> = wanted.into_iter().filter(|s| config.scope(s).is_some()).collect();
    let scopes = ScopeSet::from_tokens(scopes).unwrap();
    let client_id = latchkey::secret::generate_identifier(&config.prefixes.client_id);
    let now = latchkey::unix_now();
    tokens::access_token(
        config,
        ring,
        &realistic_subject(),
        &client_id,
        &latchkey::oauth::resource::Target {
            audience: config.resources.api().identifier.clone(),
            scopes,
        },
        &tokens::new_grant_id(),
        now,
    )
    .unwrap()
}

/// The CaseXchange guide's Salesforce integration keeps the access token in
/// a Text Area(1000) field: under `examples/casexchange.toml` with RS256 a
/// realistic user's token fits. Both example configurations are measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_fit_the_salesforce_field_under_both_examples() {
    for (example, limit) in [("casexchange.toml", Some(1000)), ("clientcasa.toml", None)] {
        let options = Options {
            config_file: Some(crate::helpers::example(example)),
            keep_issuer: true,
            ..Options::default()
        };
        let app = TestApp::spawn_with(Backend::Sqlite, options).await;
        assert_eq!(app.state.config.tokens.signing_alg, Alg::Rs256);
        let token = realistic_access_token(&app.state.config, &app.state.keys.ring());
        let claims = jwt_claims(&token);
        println!(
            "{example}: access token of {} characters; claims {}",
            token.len(),
            claims
        );
        // Every required claim is there, and the guard reads it back.
        for claim in ["iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"] {
            assert!(claims.get(claim).is_some(), "{claim} missing from {claims}");
        }
        assert!(claims.get("grant_id").is_none(), "the grant is in jti");
        let read = latchkey_verify::read_access_token(
            &app.state.guard.policy,
            &app.state.keys.ring().key_set(),
            &token,
        )
        .unwrap();
        assert_eq!(read.grant_id.len(), 8);
        if let Some(limit) = limit {
            assert!(
                token.len() <= limit,
                "{example}: {} characters, more than {limit}",
                token.len()
            );
            for claim in ["email", "name", "role", "firm_id"] {
                assert!(claims.get(claim).is_some(), "the guide's sample has {claim}");
            }
        }
    }
}

async fn es256_access_tokens_and_a_clients_eddsa_id_tokens_verify(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| raw.tokens.signing_alg = Some("ES256".into()))),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let (_, discovery) = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"]),
        "RS256 is always there, and the configured algorithm"
    );

    // A client that asks for EdDSA ID tokens: a key is made for it.
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email", "cases:read"]).await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            &format!("/oauth-clients/{client_id}"),
            Some(json!({"idTokenSignedResponseAlg": "EdDSA"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["idTokenSignedResponseAlg"], "EdDSA");
    let (_, discovery) = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    let (_, jwks) = app.get_json(&app.state.config.paths.jwks).await;
    let mut kinds: Vec<(String, String)> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["use"], "sig");
            assert_eq!(k["kid"].as_str().unwrap().len(), 11, "{k}");
            (
                k["kty"].as_str().unwrap().to_owned(),
                k["alg"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("EC".into(), "ES256".into()),
            ("OKP".into(), "EdDSA".into()),
            ("RSA".into(), "RS256".into())
        ]
    );

    let tokens = code_exchange(&app, &client_id, &secret, REDIRECT, None).await;
    let header = |token: &str| {
        use base64::Engine;
        let head = token.split('.').next().unwrap();
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(head)
                .unwrap(),
        )
        .unwrap()
    };
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header(access)["alg"], "ES256");
    assert_eq!(header(id_token)["alg"], "EdDSA");
    let keys = published_keys(&app).await;
    let (_, id_claims) = keys.verify(id_token).unwrap();
    assert_eq!(id_claims["aud"], client_id.as_str());
    keys.verify(access).unwrap();
    // The guard takes the ES256 access token: userinfo and the API answer.
    assert_eq!(app.userinfo_status(access).await, 200);
}

async fn an_unknown_id_token_alg_is_refused_naming_the_allowed_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = crate::helpers::client_body();
    body["idTokenSignedResponseAlg"] = "HS256".into();
    let (status, answer) = app.admin(Method::POST, "/oauth-clients", Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "idTokenSignedResponseAlg");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("RS256, ES256, EdDSA"), "{message}");
}

#[test]
fn an_unknown_signing_alg_stops_start_up_naming_the_setting() {
    let raw = latchkey::config::RawConfig {
        tokens: latchkey::config::RawTokens {
            signing_alg: Some("HS256".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let error = raw.validate().unwrap_err().to_string();
    assert!(
        error.contains("tokens.signing_alg") && error.contains("ES256"),
        "{error}"
    );
    let raw = latchkey::config::RawConfig {
        tokens: latchkey::config::RawTokens {
            access_token_claims: Some(vec!["email".into(), "phone".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let error = raw.validate().unwrap_err().to_string();
    assert!(
        error.contains("tokens.access_token_claims") && error.contains("tenant_name"),
        "{error}"
    );
}
