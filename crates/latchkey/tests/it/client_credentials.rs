//! The client credentials grant (RFC 6749 §4.4) for machine clients: the
//! `openidconnect` crate's client-credentials exchange with HTTP Basic and
//! with the body; the refusals (public client, grant type not allowed,
//! OpenID Connect scopes, scopes beyond the allowed ones); the token on the
//! example API with scope enforcement and no user; its end at once on
//! revocation, disable, delete, losing the grant type or the organization;
//! introspection; the admin API's and the CLI's rules for `grantTypes` and
//! `organizationId`.

use openidconnect::core::{CoreClient, CoreErrorResponseType, CoreProviderMetadata};
use openidconnect::{
    AuthType, ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, RequestTokenError, Scope,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::relying_party::{http_client, jwt_claims};
use crate::seed_integrations::token_form;

backend_tests!(
    client_credentials_with_basic_and_post_through_openidconnect,
    client_credentials_refusals_name_what_to_fix,
    client_credentials_token_is_answered_like_an_api_key,
    client_credentials_tokens_end_at_once_and_introspect,
    admin_api_validates_grant_types_and_organization,
    cli_sets_grant_types_and_organization,
    client_credentials_token_is_for_the_resource_it_names,
);

/// A new organization; its id.
async fn organization(app: &TestApp, name: &str) -> String {
    let (status, created) = app
        .admin(Method::POST, "/organizations", Some(json!({"name": name})))
        .await;
    assert_eq!(status, 201, "{created}");
    created["data"]["id"].as_str().unwrap().to_owned()
}

/// A confidential client of `organization` allowed client_credentials
/// besides the user flows; (client id, secret).
async fn machine_client(app: &TestApp, organization: &str, method: &str) -> (String, String) {
    let data = app
        .create_client(json!({
            "name": "Nightly sync",
            "redirectUris": ["https://sync.example/cb"],
            "allowed_scopes": ["openid", "offline_access", "cases:read", "firm:read", "user:read"],
            "tokenEndpointAuthMethod": method,
            "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
            "organizationId": organization,
        }))
        .await;
    assert_eq!(
        data["grantTypes"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    (
        data["clientId"].as_str().unwrap().to_owned(),
        data["clientSecret"].as_str().unwrap().to_owned(),
    )
}

/// A client_credentials token request with the secret in the body.
async fn client_token(app: &TestApp, client: &(String, String), scope: Option<&str>) -> (u16, Value) {
    let mut fields = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client.0.as_str()),
        ("client_secret", client.1.as_str()),
    ];
    if let Some(scope) = scope {
        fields.push(("scope", scope));
    }
    let (status, body, _) = token_form(app, &fields).await;
    (status, body)
}

async fn access_token(app: &TestApp, client: &(String, String), scope: Option<&str>) -> String {
    let (status, body) = client_token(app, client, scope).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `GET path` with a bearer token: (status, JSON body).
async fn api(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// RFC 7662 introspection by `caller` (client id, secret).
async fn introspect(app: &TestApp, caller: &(String, String), token: &str) -> Value {
    let response = app
        .http
        .post(app.url(&app.state.config.paths.introspect))
        .basic_auth(&caller.0, Some(&caller.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn openidconnect_client(
    app: &TestApp,
    client: &(String, String),
    auth: AuthType,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    assert!(
        metadata
            .grant_types_supported()
            .unwrap()
            .iter()
            .any(|g| g.as_ref() == "client_credentials"),
        "discovery advertises client_credentials"
    );
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.0.clone()),
        Some(ClientSecret::new(client.1.clone())),
    )
    .set_auth_type(auth)
}

async fn client_credentials_with_basic_and_post_through_openidconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    for (method, auth) in [
        ("client_secret_basic", AuthType::BasicAuth),
        ("client_secret_post", AuthType::RequestBody),
    ] {
        let client = machine_client(&app, &organization, method).await;
        let oidc = openidconnect_client(&app, &client, auth).await;

        // No scope: every allowed API scope, none of OpenID Connect's.
        let tokens = oidc
            .exchange_client_credentials()
            .unwrap()
            .request_async(&http_client)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e:?}"));
        assert!(tokens.refresh_token().is_none(), "{method}: no refresh token");
        assert!(
            tokens.extra_fields().id_token().is_none(),
            "{method}: no ID token"
        );
        let scopes: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes, ["cases:read", "user:read", "firm:read"], "{method}");
        let claims = jwt_claims(tokens.access_token().secret());
        assert_eq!(claims["sub"], client.0, "RFC 9068 §2.2: sub is the client");
        assert_eq!(claims["client_id"], client.0);
        assert_eq!(claims["firm_id"], organization.as_str());
        assert_eq!(claims["aud"], app.state.config.issuer.as_str());
        assert_eq!(claims["scope"], "cases:read user:read firm:read");
        for user_claim in ["email", "name", "role", "email_verified"] {
            assert!(claims.get(user_claim).is_none(), "{method}: no {user_claim}");
        }

        // A subset, as asked.
        let narrowed = oidc
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new("firm:read".into()))
            .request_async(&http_client)
            .await
            .unwrap();
        assert_eq!(jwt_claims(narrowed.access_token().secret())["scope"], "firm:read");

        // OpenID Connect scopes are for users.
        let refused = oidc
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new("openid".into()))
            .request_async(&http_client)
            .await
            .unwrap_err();
        match refused {
            RequestTokenError::ServerResponse(error) => {
                assert_eq!(*error.error(), CoreErrorResponseType::InvalidScope);
                assert!(error.error_description().unwrap().contains("openid"), "{error:?}");
            }
            other => panic!("{method}: {other:?}"),
        }
    }

    let metrics = app.state.metrics.encode().unwrap();
    assert!(
        metrics.contains("latchkey_tokens_issued_total{grant_type=\"client_credentials\"} 4"),
        "{metrics}"
    );
    let (_, events) = app.admin(Method::GET, "/audit-events", None).await;
    let issued = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "grant.created" && e["details"]["grant_type"] == "client_credentials")
        .count();
    assert_eq!(issued, 4, "every issuance is audited: {events}");
}

async fn client_credentials_refusals_name_what_to_fix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    let machine = machine_client(&app, &organization, "client_secret_post").await;

    // A confidential client of the user flows only.
    let web = app
        .create_client(json!({
            "name": "Web app",
            "redirectUris": ["https://web.example/cb"],
            "allowed_scopes": ["openid", "cases:read"],
            "tokenEndpointAuthMethod": "client_secret_post",
            "organizationId": organization,
        }))
        .await;
    assert_eq!(web["grantTypes"], json!(["authorization_code", "refresh_token"]));
    let web = (
        web["clientId"].as_str().unwrap().to_owned(),
        web["clientSecret"].as_str().unwrap().to_owned(),
    );
    // A public client.
    let public = app
        .create_client(json!({
            "name": "CLI",
            "redirectUris": ["http://127.0.0.1:8976/cb"],
            "allowed_scopes": ["openid", "cases:read"],
            "tokenEndpointAuthMethod": "none",
        }))
        .await;
    let public_id = public["clientId"].as_str().unwrap().to_owned();
    // A machine-only client: no user flows.
    let only = app
        .create_client(json!({
            "name": "Machine only",
            "redirectUris": ["https://machine.example/cb"],
            "allowed_scopes": ["cases:read"],
            "grantTypes": ["client_credentials"],
            "organizationId": organization,
        }))
        .await;
    let only_id = only["clientId"].as_str().unwrap().to_owned();
    let only_secret = only["clientSecret"].as_str().unwrap().to_owned();

    struct Case<'a> {
        what: &'a str,
        fields: Vec<(&'a str, &'a str)>,
        status: u16,
        error: &'a str,
        says: &'a str,
    }
    let cases = [
        Case {
            what: "not allowed the grant type",
            fields: vec![
                ("grant_type", "client_credentials"),
                ("client_id", &web.0),
                ("client_secret", &web.1),
            ],
            status: 400,
            error: "unauthorized_client",
            says: "not allowed grant_type=client_credentials",
        },
        Case {
            what: "public client",
            fields: vec![("grant_type", "client_credentials"), ("client_id", &public_id)],
            status: 400,
            error: "unauthorized_client",
            says: "client_credentials",
        },
        Case {
            what: "OpenID Connect scopes",
            fields: vec![
                ("grant_type", "client_credentials"),
                ("client_id", &machine.0),
                ("client_secret", &machine.1),
                ("scope", "cases:read offline_access email"),
            ],
            status: 400,
            error: "invalid_scope",
            says: "(email, offline_access)",
        },
        Case {
            what: "a scope beyond the allowed ones",
            fields: vec![
                ("grant_type", "client_credentials"),
                ("client_id", &machine.0),
                ("client_secret", &machine.1),
                ("scope", "cases:read cases:write"),
            ],
            status: 400,
            error: "invalid_scope",
            says: "`cases:write` is not allowed for this client; its API scopes are: cases:read user:read firm:read",
        },
        Case {
            what: "a wrong secret",
            fields: vec![
                ("grant_type", "client_credentials"),
                ("client_id", &machine.0),
                ("client_secret", "secret_wrong"),
            ],
            status: 401,
            error: "invalid_client",
            says: "client authentication failed",
        },
        Case {
            what: "a refresh token for a machine-only client",
            fields: vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "refresh_whatever"),
                ("client_id", &only_id),
                ("client_secret", &only_secret),
            ],
            status: 400,
            error: "unauthorized_client",
            says: "not allowed grant_type=refresh_token",
        },
    ];
    for case in cases {
        let (status, body, _) = token_form(&app, &case.fields).await;
        assert_eq!(status, case.status, "{}: {body}", case.what);
        assert_eq!(body["error"], case.error, "{}: {body}", case.what);
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(case.says), "{}: {description}", case.what);
    }
    let (_, body, _) = token_form(&app, &[("grant_type", "password"), ("client_id", &web.0)]).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("authorization_code, refresh_token or client_credentials"),
        "{body}"
    );

    // The machine-only client may not start the code flow either.
    let url = crate::seed_integrations::authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &only_id),
            ("redirect_uri", "https://machine.example/cb"),
            ("state", "s1"),
        ],
    );
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let query = crate::user_agent::query_of(&location);
    assert_eq!(query["error"], "unauthorized_client", "{location}");
    assert_eq!(query["state"], "s1");

    // And the machine-only client gets its token.
    let token = access_token(&app, &(only_id, only_secret), None).await;
    assert_eq!(jwt_claims(&token)["scope"], "cases:read");
}

async fn client_credentials_token_is_answered_like_an_api_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    let other = organization_with_case(&app, "Birch").await;
    let machine = machine_client(&app, &organization, "client_secret_basic").await;
    let token = access_token(&app, &machine, Some("cases:read user:read")).await;

    let (status, listed) = api(&app, Method::GET, "/api/v1/cases", &token, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"], json!([]), "only its organization's cases");
    let (status, other_case) = api(&app, Method::GET, &format!("/api/v1/cases/{other}"), &token, None).await;
    assert_eq!(status, 404, "another organization's case: {other_case}");

    let (status, refused) = api(
        &app,
        Method::POST,
        "/api/v1/cases",
        &token,
        Some(json!({"title": "From the sync"})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = api(&app, Method::GET, "/api/v1/firm", &token, None).await;
    assert_eq!(status, 403, "firm:read was not asked for");

    let (status, me) = api(&app, Method::GET, "/api/v1/me", &token, None).await;
    assert_eq!(status, 403, "{me}");
    assert_eq!(me["error"]["code"], "no_user", "{me}");
    assert!(
        me["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client_credentials token acts for no user"),
        "{me}"
    );

    let writer = app
        .create_client(json!({
            "name": "Writer",
            "allowed_scopes": ["cases:write", "firm:read"],
            "grantTypes": ["client_credentials"],
            "organizationId": organization,
        }))
        .await;
    assert_eq!(
        writer["redirectUris"],
        json!([]),
        "a machine client needs no redirect URI"
    );
    let writer = (
        writer["clientId"].as_str().unwrap().to_owned(),
        writer["clientSecret"].as_str().unwrap().to_owned(),
    );
    let token = access_token(&app, &writer, None).await;
    let (status, created) = api(
        &app,
        Method::POST,
        "/api/v1/cases",
        &token,
        Some(json!({"title": "From the sync"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, firm) = api(&app, Method::GET, "/api/v1/firm", &token, None).await;
    assert_eq!(
        (status, firm["data"]["id"].as_str()),
        (200, Some(organization.as_str()))
    );
}

/// An organization with one case (made through an API key); the case id.
async fn organization_with_case(app: &TestApp, name: &str) -> String {
    let organization = organization(app, name).await;
    let (status, key) = app
        .admin(
            Method::POST,
            &format!("/organizations/{organization}/api-keys"),
            Some(json!({"name": "seed", "scopes": ["cases:write"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["apiKey"].as_str().unwrap().to_owned();
    let (status, case) = api(
        app,
        Method::POST,
        "/api/v1/cases",
        &key,
        Some(json!({"title": "Birch's case"})),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    case["data"]["id"].as_str().unwrap().to_owned()
}

async fn client_credentials_tokens_end_at_once_and_introspect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    let machine = machine_client(&app, &organization, "client_secret_basic").await;
    let resource_server = machine_client(&app, &organization, "client_secret_post").await;
    let works = |token: String| {
        let app = &app;
        async move { api(app, Method::GET, "/api/v1/cases", &token, None).await.0 }
    };

    // Introspection: sub is the client, with its client id and organization.
    let token = access_token(&app, &machine, Some("cases:read")).await;
    let answer = introspect(&app, &resource_server, &token).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], machine.0.as_str());
    assert_eq!(answer["client_id"], machine.0.as_str());
    assert_eq!(answer["firm_id"], organization.as_str());
    assert_eq!(answer["scope"], "cases:read");

    // RFC 7009 revocation by its client ends it at once.
    assert_eq!(works(token.clone()).await, 200);
    let response = app
        .http
        .post(app.url(&app.state.config.paths.revoke))
        .basic_auth(&machine.0, Some(&machine.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(works(token.clone()).await, 401);
    assert_eq!(
        introspect(&app, &resource_server, &token).await,
        json!({"active": false})
    );

    // Disabling the client ends its tokens; enabling revives none.
    let token = access_token(&app, &machine, None).await;
    assert_eq!(works(token.clone()).await, 200);
    let path = format!("/oauth-clients/{}", machine.0);
    let (status, _) = app.admin(Method::POST, &format!("{path}/disable"), None).await;
    assert_eq!(status, 200);
    assert_eq!(works(token.clone()).await, 401);
    assert_eq!(introspect(&app, &resource_server, &token).await["active"], false);
    let (status, _) = app.admin(Method::POST, &format!("{path}/enable"), None).await;
    assert_eq!(status, 200);
    assert_eq!(works(token.clone()).await, 401, "enabling revives none");

    // Losing the grant type, or the organization, ends them too.
    let token = access_token(&app, &machine, None).await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grantTypes": ["authorization_code", "refresh_token"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(works(token).await, 401);
    let (status, body) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grantTypes": ["authorization_code", "refresh_token", "client_credentials"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = access_token(&app, &machine, None).await;
    let elsewhere = self::organization(&app, "Elsewhere").await;
    let (status, body) = app
        .admin(Method::PATCH, &path, Some(json!({"organizationId": elsewhere})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(works(token).await, 401, "a token of the organization it left");
    let token = access_token(&app, &machine, None).await;
    assert_eq!(jwt_claims(&token)["firm_id"], elsewhere.as_str());

    // Deleting the client ends them.
    assert_eq!(works(token.clone()).await, 200);
    let (status, _) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(works(token.clone()).await, 401);
    assert_eq!(introspect(&app, &resource_server, &token).await["active"], false);
}

async fn admin_api_validates_grant_types_and_organization(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    let base = || {
        json!({
            "name": "Machine",
            "redirectUris": ["https://machine.example/cb"],
            "allowed_scopes": ["cases:read"],
        })
    };
    let with = |fields: Value| {
        let mut body = base();
        for (key, value) in fields.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let refused = [
        (
            with(
                json!({"tokenEndpointAuthMethod": "none", "grantTypes": ["client_credentials"], "organizationId": organization}),
            ),
            "grantTypes",
            "client_credentials is only for confidential clients",
        ),
        (
            with(json!({"grantTypes": ["authorization_code", "client_credentials"]})),
            "organizationId",
            "organizationId is required when grantTypes includes client_credentials",
        ),
        (
            with(json!({"grantTypes": ["client_credentials"], "organizationId": "org-nowhere"})),
            "organizationId",
            "no organization has the id `org-nowhere`",
        ),
        (
            with(json!({"grantTypes": ["password"]})),
            "grantTypes",
            "grant type `password` is not supported; use authorization_code, refresh_token or client_credentials",
        ),
        (with(json!({"grantTypes": []})), "grantTypes", "at least one"),
        (
            with(json!({"grantTypes": ["refresh_token"]})),
            "grantTypes",
            "refresh_token needs authorization_code",
        ),
        (
            with(json!({"redirectUris": []})),
            "redirectUris",
            "at least one redirect URI",
        ),
    ];
    for (body, field, says) in refused {
        let (status, answer) = app
            .admin(Method::POST, "/oauth-clients", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let (_, listed) = app.admin(Method::GET, "/oauth-clients", None).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    // The default: the user flows, no owner needed.
    let (status, created) = app.admin(Method::POST, "/oauth-clients", Some(base())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["data"]["grantTypes"],
        json!(["authorization_code", "refresh_token"])
    );
    let path = format!("/oauth-clients/{}", created["data"]["clientId"].as_str().unwrap());
    // Adding client_credentials needs an owner; with one it is allowed.
    let (status, answer) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grantTypes": ["authorization_code", "refresh_token", "client_credentials"]})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "organizationId");
    let (status, answer) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grant_types": ["client_credentials", "authorization_code", "refresh_token"], "organizationId": organization})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"]["grantTypes"],
        json!(["authorization_code", "refresh_token", "client_credentials"]),
        "kept in one order, snake_case accepted"
    );
    assert_eq!(answer["data"]["organizationId"], organization.as_str());
    // Its owner cannot go while client_credentials stays.
    let (status, answer) = app
        .admin(Method::PATCH, &path, Some(json!({"organizationId": null})))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "organizationId");
    // Without the code flow, the redirect URIs may go.
    let (status, answer) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grantTypes": ["client_credentials"], "redirectUris": []})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["redirectUris"], json!([]));
    // Back to the code flow needs them again.
    let (status, answer) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grantTypes": ["authorization_code"]})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "redirectUris");
}

async fn cli_sets_grant_types_and_organization(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let organization = organization(&app, "Acme Machines").await;
    let output = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Nightly sync",
            "--scope",
            "cases:read firm:read",
            "--grant-type",
            "client_credentials",
            "--organization-id",
            &organization,
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap()
            .trim()
            .to_owned()
    };
    let client = (value("client_id:"), value("client_secret:"));
    let token = access_token(&app, &client, None).await;
    assert_eq!(jwt_claims(&token)["scope"], "cases:read firm:read");

    let output = app.cli(&["clients", "show", &client.0], None);
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["grantTypes"], json!(["client_credentials"]));
    assert_eq!(shown["organizationId"], organization.as_str());

    // Refused with the rule's words.
    let output = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Public machine",
            "--scope",
            "cases:read",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "none",
            "--organization-id",
            &organization,
        ],
        None,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only for confidential clients"), "{stderr}");

    // Update: back to the user flows (ending its tokens), with a redirect URI.
    let output = app.cli(
        &[
            "clients",
            "update",
            &client.0,
            "--grant-type",
            "authorization_code refresh_token",
            "--redirect-uri",
            "https://sync.example/cb",
            "--organization-id",
            "none",
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        shown["grantTypes"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(shown["organizationId"], Value::Null);
    assert_eq!(api(&app, Method::GET, "/api/v1/cases", &token, None).await.0, 401);
    let (status, body) = client_token(&app, &client, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

/// RFC 8707 on client_credentials: `resource` makes the token's `aud` that
/// resource and narrows it to the resource's scopes; a scope of another
/// resource, an unknown resource and two at once are refused; without
/// `resource` the token is the example API's, which accepts it.
async fn client_credentials_token_is_for_the_resource_it_names(backend: Backend) {
    use crate::resources::{BILLING, MCP, with_resources};
    let app = TestApp::spawn_with(backend, with_resources()).await;
    let organization = organization(&app, "Acme Machines").await;
    let machine = machine_client(&app, &organization, "client_secret_post").await;
    let request = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let machine = &machine;
        async move {
            let mut form: Vec<(&str, &str)> = vec![
                ("grant_type", "client_credentials"),
                ("client_id", machine.0.as_str()),
                ("client_secret", machine.1.as_str()),
            ];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            let (status, body, _) = token_form(app, &form).await;
            (status, body)
        }
    };

    // No scope: the client's API scopes that belong to the MCP resource.
    let (status, body) = request(vec![("resource", MCP.to_owned())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "cases:read");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["scope"], "cases:read");
    // The example API refuses a token for another resource.
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(api(&app, Method::GET, "/api/v1/cases", token, None).await.0, 401);

    let (status, body) = request(vec![
        ("resource", BILLING.to_owned()),
        ("scope", "firm:read".to_owned()),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(body["access_token"].as_str().unwrap())["aud"], BILLING);

    for (fields, error, says) in [
        (
            vec![
                ("resource", MCP.to_owned()),
                ("scope", "cases:read firm:read".to_owned()),
            ],
            "invalid_scope",
            "does not belong to resource",
        ),
        (
            vec![("resource", "https://unknown.example.com".to_owned())],
            "invalid_target",
            "",
        ),
        (
            vec![("resource", MCP.to_owned()), ("resource", BILLING.to_owned())],
            "invalid_target",
            "one resource",
        ),
    ] {
        let (status, body) = request(fields.clone()).await;
        assert_eq!(status, 400, "{fields:?}: {body}");
        assert_eq!(body["error"], error, "{fields:?}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(says),
            "{fields:?}: {body}"
        );
    }

    // No resource: the example API's token, which it accepts.
    let (status, body) = request(vec![("scope", "cases:read".to_owned())]).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(api(&app, Method::GET, "/api/v1/cases", token, None).await.0, 200);
}
