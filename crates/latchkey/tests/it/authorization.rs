//! The authorization endpoint's rules (SPEC 6): errors shown on a page
//! (never redirected) until the client and redirect URI are verified,
//! redirected errors with `state` and `iss` after, PKCE, prompt, max_age,
//! remembered consent, the organization picker, and Deny.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::seed_integrations::{authorize_url, obtain_code, register};
use crate::user_agent::{ALICE, UserAgent, query_of, unescape};

backend_tests!(
    unregistered_redirect_uris_get_an_error_page_never_a_redirect,
    unknown_or_disabled_clients_get_an_error_page,
    errors_after_verification_are_redirected_with_state_and_iss,
    deny_redirects_access_denied,
    prompt_none_answers_login_required_and_consent_required,
    consent_is_remembered_per_organization_unless_prompt_consent,
    prompt_login_and_max_age_force_a_new_sign_in,
    public_clients_must_use_pkce,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";
const SCOPES: &[&str] = &["openid", "email", "profile", "cases:read"];

async fn setup(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, _) = register(&app, &[REDIRECT, "http://localhost:8080/cb"], SCOPES).await;
    (app, client_id)
}

async fn unregistered_redirect_uris_get_an_error_page_never_a_redirect(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    for redirect in [
        "https://yourapp.com/oauth/callback/",
        "https://yourapp.com/oauth/callback?extra=1",
        "https://yourapp.com:8443/oauth/callback",
        "http://yourapp.com/oauth/callback",
        "https://YOURAPP.com/oauth/callback",
        "http://localhost:8081/cb",
        "https://evil.example/oauth/callback",
    ] {
        let url = authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", redirect),
                ("state", "s"),
            ],
        );
        let mut agent = UserAgent::new(&app.base_url);
        let page = agent.get(&url).await;
        assert_eq!(page.status, 400, "{redirect}");
        assert!(page.location.is_none(), "{redirect} was redirected");
        assert!(
            page.body
                .contains("redirect_uri is not registered for this client"),
            "{redirect}: {}",
            page.body
        );
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let response = app
        .http
        .get(authorize_url(
            &app,
            &[
                ("client_id", &client_id),
                ("redirect_uri", "https://evil.example/"),
            ],
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error_description"],
        "redirect_uri is not registered for this client"
    );
}

async fn unknown_or_disabled_clients_get_an_error_page(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent
        .get(&authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", "client_unknown"),
                ("redirect_uri", REDIRECT),
            ],
        ))
        .await;
    assert_eq!((page.status, page.location.is_none()), (400, true));
    let page = agent
        .get(&authorize_url(
            &app,
            &[("response_type", "code"), ("redirect_uri", REDIRECT)],
        ))
        .await;
    assert_eq!((page.status, page.location.is_none()), (400, true));
    assert!(page.body.contains("client_id is required"));
    let (status, _) = app
        .admin(
            reqwest::Method::POST,
            &format!("/oauth-clients/{client_id}/disable"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let page = agent
        .get(&authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
            ],
        ))
        .await;
    assert_eq!((page.status, page.location.is_none()), (400, true));
    assert!(page.body.contains("disabled"));
}

async fn errors_after_verification_are_redirected_with_state_and_iss(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let long_challenge = "a".repeat(43);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (
            vec![("response_type", "code"), ("scope", "openid cases:write")],
            "invalid_scope",
        ),
        (
            vec![("response_type", "code"), ("scope", "openid nonsense")],
            "invalid_scope",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", &long_challenge),
                ("code_challenge_method", "S512"),
            ],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("code_challenge", "too-short")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("code_challenge_method", "S256")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("prompt", "none login")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("max_age", "soon")],
            "invalid_request",
        ),
    ];
    for (extra, error) in cases {
        let mut params = vec![
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "xyz"),
        ];
        params.extend(extra.iter().copied());
        let mut agent = UserAgent::new(&app.base_url);
        let page = agent.get(&authorize_url(&app, &params)).await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        let location = page.location.unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        let query = query_of(&location);
        assert_eq!(query["error"], error, "{extra:?}");
        assert!(!query["error_description"].is_empty());
        assert_eq!(query["state"], "xyz");
        assert_eq!(query["iss"], app.state.config.issuer);
    }
    // A repeated parameter is refused too.
    let url = format!(
        "{}&scope=openid&scope=email",
        authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT)
            ]
        )
    );
    let page = UserAgent::new(&app.base_url).get(&url).await;
    assert_eq!(query_of(&page.location.unwrap())["error"], "invalid_request");
}

async fn deny_redirects_access_denied(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "st"),
        ],
    );
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent.authorize(&url, ALICE, "deny", None).await;
    let query = query_of(&done.location.unwrap());
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "st");
    assert!(!query.contains_key("code"));
}

async fn prompt_none_answers_login_required_and_consent_required(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("prompt", "none"),
        ("state", "p"),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent.get(&authorize_url(&app, &params)).await;
    assert_eq!(query_of(&page.location.unwrap())["error"], "login_required");
    // Signed in but never consented.
    let login = agent.get("/login").await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303);
    let page = agent.get(&authorize_url(&app, &params)).await;
    assert_eq!(query_of(&page.location.unwrap())["error"], "consent_required");
}

async fn consent_is_remembered_per_organization_unless_prompt_consent(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    // alice belongs to two organizations: the consent page offers both.
    let first = agent.get(&authorize_url(&app, &base)).await;
    let login = agent.follow(first).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200);
    let birch = "3f1c2a10-5b7e-4c1d-9a00-00000000b102";
    assert!(
        consent.body.contains("<select") && unescape(&consent.body).contains("Birch & Partners"),
        "{}",
        consent.body
    );
    let done = agent.consent(&consent, "approve", Some(birch)).await;
    assert!(query_of(done.location.as_deref().unwrap()).contains_key("code"));

    // The same request again: no consent page, a code at once.
    let again = agent.get(&authorize_url(&app, &base)).await;
    assert_eq!(again.status, 303);
    let location = again.location.unwrap();
    assert!(
        location.starts_with(REDIRECT) && query_of(&location).contains_key("code"),
        "{location}"
    );

    // A code issued without asking acts on the organization consented in.
    let code = query_of(&location)["code"].clone();
    let stored = app
        .state
        .store
        .find_authorization_code(&latchkey::secret::Secret::new(code).digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.organization_id, birch);

    // prompt=consent shows the page again; a wider scope does too.
    let mut with_prompt = base.to_vec();
    with_prompt.push(("prompt", "consent"));
    let page = agent.get(&authorize_url(&app, &with_prompt)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"decision\""));
    let mut wider = base.to_vec();
    wider.push(("scope", "openid cases:read email"));
    let page = agent.get(&authorize_url(&app, &wider)).await;
    assert_eq!(page.status, 303, "email was granted with the default scopes");
}

async fn prompt_login_and_max_age_force_a_new_sign_in(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let code = obtain_code(&app, &base).await;
    assert!(!code.is_empty());
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent
        .authorize(&authorize_url(&app, &base), ALICE, "approve", None)
        .await;
    assert!(done.location.unwrap().contains("code="));

    for extra in [("prompt", "login"), ("max_age", "0")] {
        let mut params = base.to_vec();
        params.push(extra);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let page = agent.get(&authorize_url(&app, &params)).await;
        let location = page.location.unwrap();
        assert!(location.starts_with("/login?"), "{extra:?}: {location}");
        let login = agent.get(&location).await;
        let back = agent.sign_in(&login, ALICE.0, ALICE.1).await;
        let done = agent.follow(back).await;
        let location = done
            .location
            .unwrap_or_else(|| panic!("{extra:?}: {}", done.body));
        assert!(
            location.starts_with(REDIRECT) && location.contains("code="),
            "{extra:?}: {location}"
        );
    }
}

async fn public_clients_must_use_pkce(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut body = json!({"name": "SPA", "redirectUris": [REDIRECT], "allowed_scopes": ["openid"]});
    body["tokenEndpointAuthMethod"] = json!("none");
    let client_id = app.create_client(body).await["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = UserAgent::new(&app.base_url)
        .get(&authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("state", "s"),
            ],
        ))
        .await;
    let query = query_of(&page.location.unwrap());
    assert_eq!(query["error"], "invalid_request");
    assert!(query["error_description"].contains("PKCE"));
    // `plain` is the default method when a challenge comes without one.
    let verifier = "p".repeat(50);
    let code = obtain_code(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("code_challenge", &verifier),
        ],
    )
    .await;
    let response = app
        .http
        .post(app.url("/api/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}
