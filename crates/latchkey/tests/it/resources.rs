//! Resource indicators (RFC 8707) and the example API as a protected
//! resource (RFC 9728): `resource` on the authorization request, the code
//! exchange and the refresh; `aud` bound to the one resource a token is
//! for; `invalid_target` at each endpoint; the consent screen naming the
//! resources; the guard refusing a token for another resource; the
//! metadata documents and the `WWW-Authenticate` challenges that point to
//! them; and requests without `resource` behaving as before.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, ServerProcess, TestApp, TestDatabase, read_json};
use crate::relying_party::{http_client, jwt_claims};
use crate::seed_integrations::{authorize_url, obtain_code, register, token_form};
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    a_code_flow_with_a_resource_binds_the_token_to_it_with_openidconnect,
    a_refresh_narrows_to_one_of_the_granted_resources,
    unknown_and_malformed_resources_are_invalid_target_at_the_authorization_endpoint,
    scopes_must_belong_to_the_requested_resource,
    the_token_endpoint_answers_invalid_target_and_keeps_the_code,
    without_resource_the_token_is_for_the_example_api_as_before,
    the_example_api_refuses_a_token_for_another_resource,
    a_token_for_another_resource_is_introspected_and_revoked,
    the_consent_screen_names_the_resources_and_remembers_them,
    the_example_api_publishes_its_metadata_and_points_to_it,
    an_example_api_identified_by_its_path_is_published_at_both_well_known_paths,
);

pub const MCP: &str = "https://mcp.example.com";
pub const BILLING: &str = "https://billing.example.com/api";
const REDIRECT: &str = "https://yourapp.com/oauth/callback";
const SCOPES: &[&str] = &[
    "openid",
    "email",
    "offline_access",
    "cases:read",
    "cases:write",
    "user:read",
    "firm:read",
];

fn resource(identifier: &str, name: &str, scopes: &[&str]) -> latchkey::config::RawResource {
    latchkey::config::RawResource {
        identifier: identifier.into(),
        name: name.into(),
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Two resources beside the example API: the case assistant (an MCP
/// server) with `cases:read`, and billing with `firm:read`.
pub fn with_resources() -> Options {
    Options {
        tweak: Some(Box::new(|raw| {
            raw.resources = Some(vec![
                resource(MCP, "Case assistant", &["cases:read"]),
                resource(BILLING, "Billing", &["firm:read"]),
            ]);
        })),
        ..Options::default()
    }
}

async fn setup(backend: Backend) -> (TestApp, String, String) {
    let app = TestApp::spawn_with(backend, with_resources()).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], SCOPES).await;
    (app, client_id, secret)
}

/// Alice approves an authorization request with these extra parameters.
async fn code_with(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
    ];
    params.extend_from_slice(extra);
    obtain_code(app, &params).await
}

/// The token endpoint's answer to a grant with these fields, the client
/// authenticating in the form.
async fn token(app: &TestApp, client: (&str, &str), fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("client_id", client.0), ("client_secret", client.1)];
    form.extend_from_slice(fields);
    let (status, body, _) = token_form(app, &form).await;
    (status, body)
}

async fn exchange(app: &TestApp, client: (&str, &str), code: &str, resources: &[&str]) -> (u16, Value) {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    fields.extend(resources.iter().map(|r| ("resource", *r)));
    token(app, client, &fields).await
}

async fn refresh(
    app: &TestApp,
    client: (&str, &str),
    refresh_token: &str,
    resources: &[&str],
) -> (u16, Value) {
    let mut fields = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    fields.extend(resources.iter().map(|r| ("resource", *r)));
    token(app, client, &fields).await
}

fn assert_invalid_target(status: u16, body: &Value, says: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(says), "{description}");
}

/// A GET of the example API with a bearer token: (status, challenge, body).
async fn api_get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
    (status, challenge, body)
}

/// The relying-party library sends `resource` as an extra parameter on the
/// authorization request, the code exchange and the refresh: the access
/// token's `aud` is the resource, its scope the resource's, and the ID
/// token still verifies.
async fn a_code_flow_with_a_resource_binds_the_token_to_it_with_openidconnect(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    .set_auth_type(AuthType::BasicAuth);
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("cases:read".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param("resource", MCP)
        .url();
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent.authorize(url.as_str(), ALICE, "approve", None).await;
    let query = query_of(&done.location.expect("redirected back"));
    assert_eq!(query["state"], *csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .add_extra_param("resource", MCP)
        .request_async(&http_client)
        .await
        .unwrap();
    let access = jwt_claims(tokens.access_token().secret());
    assert_eq!(access["aud"], MCP, "{access}");
    assert_eq!(access["scope"], "cases:read", "only the resource's scopes");
    let granted: Vec<&str> = tokens.scopes().unwrap().iter().map(|s| s.as_str()).collect();
    assert_eq!(
        granted,
        ["cases:read"],
        "the response says what the token carries"
    );
    tokens
        .id_token()
        .expect("an ID token for openid")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies");
    // The token is for the case assistant, not for userinfo or the API.
    assert_eq!(app.userinfo_status(tokens.access_token().secret()).await, 401);

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .add_extra_param("resource", MCP)
        .request_async(&http_client)
        .await
        .unwrap();
    assert_eq!(jwt_claims(refreshed.access_token().secret())["aud"], MCP);
    // Without `resource`, the one granted resource is meant.
    let again = client
        .exchange_refresh_token(&RefreshToken::new(
            refreshed.refresh_token().unwrap().secret().clone(),
        ))
        .unwrap()
        .request_async(&http_client)
        .await
        .unwrap();
    assert_eq!(jwt_claims(again.access_token().secret())["aud"], MCP);
}

/// Two resources granted: the code exchange must choose one, and a
/// refresh may choose either, but nothing else.
async fn a_refresh_narrows_to_one_of_the_granted_resources(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let client = (client_id.as_str(), secret.as_str());
    let code = code_with(
        &app,
        &client_id,
        &[
            ("scope", "openid cases:read firm:read"),
            ("resource", MCP),
            ("resource", BILLING),
        ],
    )
    .await;
    let (status, body) = exchange(&app, client, &code, &[]).await;
    assert_invalid_target(status, &body, "several resources");
    let (status, tokens) = exchange(&app, client, &code, &[MCP]).await;
    assert_eq!(status, 200, "{tokens}");
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (access["aud"].as_str(), access["scope"].as_str()),
        (Some(MCP), Some("cases:read"))
    );
    assert_eq!(tokens["scope"], "cases:read");
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], client_id, "the ID token stays the client's");

    let mut refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = refresh(&app, client, &refresh_token, &[]).await;
    assert_invalid_target(status, &body, "several resources");
    for (resource, scope) in [(BILLING, "firm:read"), (MCP, "cases:read")] {
        let (status, tokens) = refresh(&app, client, &refresh_token, &[resource]).await;
        assert_eq!(status, 200, "{tokens}");
        let access = jwt_claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(
            (access["aud"].as_str(), access["scope"].as_str()),
            (Some(resource), Some(scope))
        );
        refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    }
    // A resource of this server, but not granted; an unknown one; two.
    let issuer = app.state.config.issuer.clone();
    for (resources, says) in [
        (vec![issuer.as_str()], "was not granted"),
        (
            vec!["https://elsewhere.example.com"],
            "not a resource this server issues tokens for",
        ),
        (vec![MCP, BILLING], "one resource"),
        (vec!["https://mcp.example.com#tools"], "must not have a fragment"),
    ] {
        let (status, body) = refresh(&app, client, &refresh_token, &resources).await;
        assert_invalid_target(status, &body, says);
    }
    // The refusals rotated nothing: the token still works.
    let (status, _) = refresh(&app, client, &refresh_token, &[MCP]).await;
    assert_eq!(status, 200);
}

/// The authorization endpoint sends `invalid_target` back to the client
/// with `state` and `iss`, as every error after the redirect URI is known.
async fn unknown_and_malformed_resources_are_invalid_target_at_the_authorization_endpoint(backend: Backend) {
    let (app, client_id, _) = setup(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    for (resource, says) in [
        (
            "https://elsewhere.example.com",
            "is not a resource this server issues tokens for",
        ),
        ("/api/v1", "is not an absolute URI"),
        ("https://mcp.example.com/#x", "must not have a fragment"),
    ] {
        let url = authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
                ("state", "s-1"),
                ("resource", MCP),
                ("resource", resource),
            ],
        );
        let page = agent.get(&url).await;
        assert_eq!(page.status, 303, "{resource}: {}", page.body);
        let location = page.location.unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        let query = query_of(&location);
        assert_eq!(query["error"], "invalid_target", "{resource}");
        assert!(
            query["error_description"].contains(says),
            "{}",
            query["error_description"]
        );
        assert_eq!(query["state"], "s-1");
        assert_eq!(query["iss"], app.state.config.issuer);
    }
}

/// A resource that declares its scopes takes only those (and OpenID
/// Connect's); a scope of another resource is refused, not dropped.
async fn scopes_must_belong_to_the_requested_resource(backend: Backend) {
    let (app, client_id, _) = setup(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid cases:read firm:read"),
            ("resource", MCP),
        ],
    );
    let page = agent.get(&url).await;
    let query = query_of(&page.location.expect("redirected to the client"));
    assert_eq!(query["error"], "invalid_scope");
    assert!(
        query["error_description"].contains("`firm:read`"),
        "{}",
        query["error_description"]
    );
}

/// A refused exchange consumes nothing: the client may fix its request.
async fn the_token_endpoint_answers_invalid_target_and_keeps_the_code(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let client = (client_id.as_str(), secret.as_str());
    let code = code_with(&app, &client_id, &[("scope", "cases:read"), ("resource", MCP)]).await;
    for (resources, says) in [
        (vec![BILLING], "was not granted"),
        (
            vec!["urn:example:nowhere"],
            "not a resource this server issues tokens for",
        ),
        (vec!["relative/path"], "is not an absolute URI"),
        (vec![MCP, MCP], "one resource"),
    ] {
        let (status, body) = exchange(&app, client, &code, &resources).await;
        assert_invalid_target(status, &body, says);
    }
    // The same identifier written differently names the same resource.
    let (status, tokens) = exchange(&app, client, &code, &["HTTPS://MCP.example.com/"]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["aud"], MCP);
}

/// With resources configured, a request that names none still gets what it
/// got before: `aud` the issuer, every scope, userinfo and the API work.
/// Naming the example API explicitly works too.
async fn without_resource_the_token_is_for_the_example_api_as_before(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let client = (client_id.as_str(), secret.as_str());
    let issuer = app.state.config.issuer.clone();
    let code = code_with(&app, &client_id, &[("scope", "openid cases:read user:read")]).await;
    let (status, tokens) = exchange(&app, client, &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let access = jwt_claims(token);
    assert_eq!(access["aud"], issuer.as_str());
    assert_eq!(access["scope"], "openid cases:read user:read");
    assert_eq!(app.userinfo_status(token).await, 200);
    let (status, _, _) = api_get(&app, "/api/v1/cases", Some(token)).await;
    assert_eq!(status, 200);
    // A refresh naming a resource the grant never had is refused.
    let (status, body) = refresh(&app, client, tokens["refresh_token"].as_str().unwrap(), &[MCP]).await;
    assert_invalid_target(status, &body, "was not granted");

    let code = code_with(
        &app,
        &client_id,
        &[("scope", "openid user:read"), ("resource", &issuer)],
    )
    .await;
    let (status, tokens) = exchange(&app, client, &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["aud"], issuer.as_str());
    let (status, _, me) = api_get(&app, "/api/v1/me", Some(token)).await;
    assert_eq!(status, 200, "{me}");
}

/// RFC 8707's point: a token for the case assistant is no key to the API.
async fn the_example_api_refuses_a_token_for_another_resource(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let code = code_with(&app, &client_id, &[("scope", "cases:read"), ("resource", MCP)]).await;
    let (status, tokens) = exchange(&app, (&client_id, &secret), &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["aud"], MCP);
    let (status, challenge, body) = api_get(&app, "/api/v1/cases", Some(token)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains("for another resource") && description.contains(&app.state.config.issuer),
        "{description}"
    );
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\"") && challenge.contains("resource_metadata=\""),
        "{challenge}"
    );
}

/// The resource server of a token for it introspects it (RFC 7662), and
/// its client can revoke it (RFC 7009), whatever its `aud`.
async fn a_token_for_another_resource_is_introspected_and_revoked(backend: Backend) {
    let (app, client_id, secret) = setup(backend).await;
    let code = code_with(&app, &client_id, &[("scope", "cases:read"), ("resource", MCP)]).await;
    let (_, tokens) = exchange(&app, (&client_id, &secret), &code, &[]).await;
    let token = tokens["access_token"].as_str().unwrap();
    let post = |path: String| {
        app.http
            .post(app.url(&path))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token)])
            .send()
    };
    let introspect = app.state.config.paths.introspect.clone();
    let (status, answer) = read_json(post(introspect.clone()).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        (answer["active"].as_bool(), answer["aud"].as_str()),
        (Some(true), Some(MCP)),
        "{answer}"
    );
    let response = post(app.state.config.paths.revoke.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let (_, answer) = read_json(post(introspect).await.unwrap()).await;
    assert_eq!(answer["active"], false, "revoked: {answer}");
}

/// The consent page names each resource by its configured name with its
/// host; the approval remembers them, so asking again for the same
/// resource goes straight back, and for another one asks again.
async fn the_consent_screen_names_the_resources_and_remembers_them(backend: Backend) {
    let (app, client_id, _) = setup(backend).await;
    let organization = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
    let params = |resource: &'static str| {
        authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("organization_id", organization),
                ("resource", resource),
            ],
        )
    };
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(&params(MCP)).await;
    let login = agent.follow(first).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("Case assistant"), "{}", consent.body);
    assert!(consent.body.contains("mcp.example.com"));
    assert!(!consent.body.contains("Billing"));
    let done = agent.consent(&consent, "approve", None).await;
    assert!(query_of(&done.location.unwrap()).contains_key("code"));

    // Remembered for the case assistant: no page.
    let again = agent.get(&params(MCP)).await;
    assert!(
        again.location.as_deref().is_some_and(|l| l.starts_with(REDIRECT)),
        "{:?}",
        again.location
    );
    // Billing was never approved: the page, naming it.
    let billing = agent.get(&params(BILLING)).await;
    assert_eq!(billing.status, 200);
    assert!(billing.body.contains("Billing") && billing.body.contains("billing.example.com"));
}

/// RFC 9728 §3: the example API's metadata, at the well-known path its
/// identifier (the issuer) gives; every 401 points to it; discovery lists
/// the resources only when they are configured.
async fn the_example_api_publishes_its_metadata_and_points_to_it(backend: Backend) {
    let plain = TestApp::spawn(backend).await;
    let (status, document) = plain.get_json("/.well-known/oauth-protected-resource").await;
    assert_eq!(status, 200);
    let issuer = plain.state.config.issuer.as_str();
    assert_eq!(
        document,
        json!({
            "resource": issuer,
            "authorization_servers": [issuer],
            "scopes_supported": ["cases:read", "cases:write", "user:read", "firm:read"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Latchkey API",
        })
    );
    let (status, challenge, _) = api_get(&plain, "/api/v1/firm", None).await;
    assert_eq!(
        (status, challenge),
        (
            401,
            format!("Bearer resource_metadata=\"{issuer}/.well-known/oauth-protected-resource\"")
        )
    );
    let (_, discovery) = plain.get_json("/.well-known/openid-configuration").await;
    assert!(discovery.get("protected_resources").is_none(), "{discovery}");
    let (status, _, _) = api_get(&plain, "/.well-known/oauth-protected-resource/api/v1", None).await;
    assert_eq!(
        status, 404,
        "no path-suffixed document for an identifier without that path"
    );

    let (app, _, _) = setup(backend).await;
    let issuer = app.state.config.issuer.as_str();
    let (_, document) = app.get_json("/.well-known/oauth-protected-resource").await;
    assert_eq!(
        document["scopes_supported"],
        json!(["cases:write", "user:read"]),
        "the scopes other resources declare are theirs"
    );
    let (_, discovery) = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["protected_resources"], json!([MCP, BILLING, issuer]));
}

/// A configured resource at the API's own URL is the example API: its
/// metadata is at the path-suffixed well-known URL (and the bare one, which
/// MCP clients try last), 401s point to the former, and tokens without
/// `resource` are for it.
async fn an_example_api_identified_by_its_path_is_published_at_both_well_known_paths(backend: Backend) {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            let identifier = format!("{}/api/v1", raw.issuer.clone().unwrap());
            raw.resources = Some(vec![resource(
                &identifier,
                "Cases API",
                &["cases:read", "user:read"],
            )]);
        })),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    let issuer = app.state.config.issuer.clone();
    let identifier = format!("{issuer}/api/v1");
    let suffixed = "/.well-known/oauth-protected-resource/api/v1";
    for path in [suffixed, "/.well-known/oauth-protected-resource"] {
        let (status, document) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(document["resource"], identifier.as_str(), "{path}");
        assert_eq!(document["resource_name"], "Cases API");
        assert_eq!(document["scopes_supported"], json!(["cases:read", "user:read"]));
    }
    let (status, challenge, _) = api_get(&app, "/api/v1/cases", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{issuer}{suffixed}\"")
    );

    let (client_id, secret) = register(&app, &[REDIRECT], SCOPES).await;
    let code = code_with(&app, &client_id, &[("scope", "openid cases:read")]).await;
    let (status, tokens) = exchange(&app, (&client_id, &secret), &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["aud"], identifier.as_str());
    let (status, _, _) = api_get(&app, "/api/v1/cases", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(app.userinfo_status(token).await, 200);
    // The bare identifier (the issuer) is no resource here.
    let code = code_with(
        &app,
        &client_id,
        &[("scope", "cases:read"), ("resource", &identifier)],
    )
    .await;
    let (status, _) = exchange(&app, (&client_id, &secret), &code, &[&issuer]).await;
    assert_eq!(status, 400);
}

/// `[[resources]]` from the environment: `LATCHKEY_RESOURCES` holds the
/// array of tables inline, as figment reads any value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_can_be_configured_from_the_environment() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let env = [
        ("LATCHKEY_DATABASE_URL", database.url.clone()),
        (
            "LATCHKEY_MASTER_KEY",
            latchkey::secret::MasterKey::generate().to_base64(),
        ),
        (
            "LATCHKEY_RESOURCES",
            format!(r#"[{{identifier="{MCP}", name="Case assistant", scopes="cases:read"}}]"#),
        ),
    ];
    let server = ServerProcess::start(&["serve"], &env);
    let response = reqwest::get(format!("{}/.well-known/openid-configuration", server.base_url))
        .await
        .unwrap();
    let (_, metadata) = read_json(response).await;
    let listed = metadata["protected_resources"].as_array().unwrap();
    assert_eq!(listed[0], MCP, "{metadata}");
    assert!(server.terminate().success());

    let mut env = env.to_vec();
    env[2].1 = r#"[{identifier="https://mcp.example.com#x", name="x"}]"#.into();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("migrate")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`resources`") && stderr.contains("fragment"),
        "{stderr}"
    );
}
