//! The code flow driven by a real relying-party library (`openidconnect`):
//! discovery → authorization URL with PKCE, state and nonce → sign-in and
//! consent → code → token with each client authentication style → ID token
//! verified against the JWKS → userinfo. Under both example configurations.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp, example};
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    client_secret_basic_flow_with_openidconnect,
    client_secret_post_flow_with_openidconnect,
    public_client_flow_with_openidconnect,
    clientcasa_flow_with_openidconnect,
    every_authentication_style_under_both_example_configurations,
);

/// The HTTP client the library uses: reqwest without redirects.
pub async fn http_client(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    Ok(builder.body(response.bytes().await?.to_vec()).unwrap())
}

/// The claims of a JWT, without verification (the library verified it).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

const REDIRECT_URI: &str = "http://localhost:3000/api/auth/callback/latchkey";

struct Flow {
    method: &'static str,
    scopes: &'static [&'static str],
}

/// Runs the whole flow for a client registered with `method`; returns the
/// token response's raw claims for further checks.
async fn run_flow(app: &TestApp, flow: Flow) -> (Value, Value, Value) {
    let (status, created) = app
        .admin(
            Method::POST,
            "/oauth-clients",
            Some(json!({
                "name": "Relying Party",
                "redirectUris": [REDIRECT_URI],
                "allowed_scopes": flow.scopes,
                "tokenEndpointAuthMethod": flow.method,
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let client_id = created["data"]["clientId"].as_str().unwrap().to_owned();
    let secret = created["data"]["clientSecret"]
        .as_str()
        .map(|s| ClientSecret::new(s.to_owned()));

    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    let mut client = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), secret)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap());
    client = match flow.method {
        "client_secret_post" | "none" => client.set_auth_type(AuthType::RequestBody),
        _ => client.set_auth_type(AuthType::BasicAuth),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in flow.scopes.iter().filter(|s| **s != "openid") {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();

    let mut agent = UserAgent::new(&app.base_url);
    let done = agent.authorize(url.as_str(), ALICE, "approve", None).await;
    let location = done
        .location
        .unwrap_or_else(|| panic!("not redirected back: {} {}", done.status, done.body));
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], *csrf.secret(), "state comes back");
    assert_eq!(query["iss"], app.state.config.issuer, "RFC 9207 iss comes back");

    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token for openid");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("ID token verifies against the JWKS");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    let subject = claims.subject().clone();

    let userinfo: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(subject))
        .unwrap()
        .request_async(&http_client)
        .await
        .expect("userinfo answers for the access token");
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some("alice@example.com"));

    let userinfo_raw = app
        .http
        .get(app.url(&app.state.config.paths.userinfo))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    (
        jwt_claims(tokens.access_token().secret()),
        jwt_claims(&id_token.to_string()),
        userinfo_raw,
    )
}

const AUTHJS_SCOPES: &[&str] = &["openid", "profile", "email"];

async fn client_secret_basic_flow_with_openidconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (access, id, userinfo) = run_flow(
        &app,
        Flow {
            method: "client_secret_basic",
            scopes: &["openid", "email", "cases:read"],
        },
    )
    .await;
    assert_eq!(access["scope"], "openid email cases:read");
    assert_eq!(access["firm_id"], id["firm_id"]);
    assert!(access.get("name").is_none(), "no profile scope, no name");
    assert_eq!(userinfo["email"], "alice@example.com");
}

/// The Auth.js provider of the integration guide: OIDC discovery, PKCE and
/// state, client_secret_post, and a profile mapped from sub, email, name,
/// role and firm_id.
async fn client_secret_post_flow_with_openidconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (access, id, userinfo) = run_flow(
        &app,
        Flow {
            method: "client_secret_post",
            scopes: AUTHJS_SCOPES,
        },
    )
    .await;
    for claims in [&id, &userinfo] {
        assert!(
            claims["sub"]
                .as_str()
                .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            "{claims}"
        );
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["name"], "Alice Example");
        assert_eq!(claims["role"], "FIRM_ADMIN", "{claims}");
        assert_eq!(claims["firm_id"], "3f1c2a10-5b7e-4c1d-9a00-00000000ac01");
        assert_eq!(claims["firm_name"], "Acme Legal");
    }
    assert_eq!(access["client_id"], id["aud"]);
    assert_eq!(access["iss"], app.state.config.issuer);
    for claim in ["iat", "exp", "jti", "sub", "aud"] {
        assert!(access.get(claim).is_some(), "{claim} missing from {access}");
    }
    assert_eq!(id["azp"], id["aud"]);
    assert!(
        id["auth_time"].as_i64().is_some() && id["at_hash"].as_str().is_some() && id["nonce"].is_string()
    );
    assert_eq!(id["amr"], serde_json::json!(["pwd"]), "signed in with a password");
    assert_eq!(id["acr"], "urn:latchkey:acr:1fa");
}

async fn public_client_flow_with_openidconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (access, _, _) = run_flow(
        &app,
        Flow {
            method: "none",
            scopes: AUTHJS_SCOPES,
        },
    )
    .await;
    assert_eq!(access["scope"], "openid email profile");
}

async fn clientcasa_flow_with_openidconnect(backend: Backend) {
    let options = Options {
        config_file: Some(example("clientcasa.toml")),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let (access, id, userinfo) = run_flow(
        &app,
        Flow {
            method: "client_secret_basic",
            scopes: &["openid", "email", "read:clients"],
        },
    )
    .await;
    assert_eq!(access["organizationId"], "3f1c2a10-5b7e-4c1d-9a00-00000000ac01");
    assert_eq!(id["organizationId"], access["organizationId"]);
    assert_eq!(userinfo["organizationId"], access["organizationId"]);
    assert!(access.get("firm_id").is_none() && access.get("firm_name").is_none());
}

/// Basic, post and a public client, under `examples/casexchange.toml` and
/// `examples/clientcasa.toml` (issuer pointed at the test server).
async fn every_authentication_style_under_both_example_configurations(backend: Backend) {
    for (file, tenant_claim) in [
        ("casexchange.toml", "firm_id"),
        ("clientcasa.toml", "organizationId"),
    ] {
        let options = Options {
            config_file: Some(example(file)),
            ..Options::default()
        };
        let app = TestApp::spawn_with(backend, options).await;
        app.seed_demo().await;
        for method in ["client_secret_basic", "client_secret_post", "none"] {
            let (access, id, userinfo) = run_flow(
                &app,
                Flow {
                    method,
                    scopes: AUTHJS_SCOPES,
                },
            )
            .await;
            for claims in [&access, &id, &userinfo] {
                assert_eq!(
                    claims[tenant_claim], "3f1c2a10-5b7e-4c1d-9a00-00000000ac01",
                    "{file} {method}: {claims}"
                );
            }
        }
    }
}
