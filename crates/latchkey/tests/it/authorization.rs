//! The authorization endpoint's rules (SPEC 6): errors shown on a page
//! (never redirected) until the client and redirect URI are verified,
//! redirected errors with `state` and `iss` after, PKCE, prompt, max_age,
//! remembered consent, choosing or naming the organization, and Deny.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::seed_integrations::{authorize_url, obtain_code, register};
use crate::user_agent::{ALICE, UserAgent, hidden_inputs, options, query_of, selected_option, unescape};

backend_tests!(
    unregistered_redirect_uris_get_an_error_page_never_a_redirect,
    unknown_or_disabled_clients_get_an_error_page,
    errors_after_verification_are_redirected_with_state_and_iss,
    deny_redirects_access_denied,
    prompt_none_answers_login_required_and_consent_required,
    consent_is_remembered_per_organization_unless_prompt_consent,
    several_organizations_are_offered_again_with_the_last_choice_preselected,
    naming_the_organization_skips_the_choice,
    prompt_login_and_max_age_force_a_new_sign_in,
    public_clients_must_use_pkce,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";
const SCOPES: &[&str] = &["openid", "email", "profile", "cases:read"];
const ACME: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
const BIRCH: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000b102";
const SAM_PASSWORD: &str = "sam's long password";

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

/// A user in one organization is asked once; the consent is remembered
/// (prompt=none works) until prompt=consent or a scope not granted yet.
async fn consent_is_remembered_per_organization_unless_prompt_consent(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let (_, org_id) = app
        .add_member("sam@example.com", SAM_PASSWORD, "Smith & Associates", "ATTORNEY")
        .await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid cases:read"),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent
        .authorize(
            &authorize_url(&app, &base),
            ("sam@example.com", SAM_PASSWORD),
            "approve",
            None,
        )
        .await;
    assert!(query_of(done.location.as_deref().unwrap()).contains_key("code"));

    // The same request again, and with prompt=none: a code at once.
    let mut quiet = base.to_vec();
    quiet.push(("prompt", "none"));
    for params in [base.to_vec(), quiet] {
        let again = agent.get(&authorize_url(&app, &params)).await;
        assert_eq!(again.status, 303);
        let location = again.location.unwrap();
        assert!(
            location.starts_with(REDIRECT) && query_of(&location).contains_key("code"),
            "{location}"
        );
        assert_eq!(organization_of(&app, &location).await, org_id);
    }

    // prompt=consent shows the page again; a wider scope does too.
    let mut with_prompt = base.to_vec();
    with_prompt.push(("prompt", "consent"));
    let page = agent.get(&authorize_url(&app, &with_prompt)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"decision\""));
    let mut wider = base.to_vec();
    wider[3] = ("scope", "openid cases:read email");
    let page = agent.get(&authorize_url(&app, &wider)).await;
    assert_eq!(page.status, 200, "email was never granted");
}

/// A user in several organizations chooses again on every authorization
/// that does not name one, with the last choice preselected; prompt=none
/// cannot choose.
async fn several_organizations_are_offered_again_with_the_last_choice_preselected(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(&authorize_url(&app, &base)).await;
    let login = agent.follow(first).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200);
    assert!(
        consent.body.contains("<select") && unescape(&consent.body).contains("Birch & Partners"),
        "{}",
        consent.body
    );
    assert_eq!(options(&consent.body), [ACME, BIRCH]);
    assert_eq!(
        selected_option(&consent.body).as_deref(),
        Some(ACME),
        "nothing chosen before"
    );
    let done = agent.consent(&consent, "approve", Some(BIRCH)).await;
    assert_eq!(
        organization_of(&app, done.location.as_deref().unwrap()).await,
        BIRCH
    );

    // The same request again: the page, Birch chosen; leaving it so acts on Birch.
    let again = agent.get(&authorize_url(&app, &base)).await;
    assert_eq!(again.status, 200, "{:?}", again.location);
    assert!(
        again
            .body
            .contains(&format!("<option value=\"{BIRCH}\" selected>")),
        "{}",
        again.body
    );
    let done = agent.consent(&again, "approve", None).await;
    assert_eq!(
        organization_of(&app, done.location.as_deref().unwrap()).await,
        BIRCH
    );

    // Choosing Acme later makes Acme the preselected one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let page = agent.get(&authorize_url(&app, &base)).await;
    let done = agent.consent(&page, "approve", Some(ACME)).await;
    assert_eq!(
        organization_of(&app, done.location.as_deref().unwrap()).await,
        ACME
    );
    let page = agent.get(&authorize_url(&app, &base)).await;
    assert_eq!(selected_option(&page.body).as_deref(), Some(ACME));

    let mut quiet = base.to_vec();
    quiet.extend([("prompt", "none"), ("state", "q")]);
    let page = agent.get(&authorize_url(&app, &quiet)).await;
    let query = query_of(&page.location.unwrap());
    assert_eq!(
        (query["error"].as_str(), query["state"].as_str()),
        ("consent_required", "q")
    );
}

/// `organization_id` names the organization: its remembered consent skips
/// the page (prompt=none too); without one the page asks for that
/// organization only; an organization the user is not in is refused.
async fn naming_the_organization_skips_the_choice(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    let named = |organization: &'static str| {
        vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "n"),
            ("organization_id", organization),
        ]
    };
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent
        .authorize(&authorize_url(&app, &named(BIRCH)), ALICE, "approve", None)
        .await;
    assert_eq!(
        organization_of(&app, done.location.as_deref().unwrap()).await,
        BIRCH
    );

    let mut quiet = named(BIRCH);
    quiet.push(("prompt", "none"));
    for params in [named(BIRCH), quiet] {
        let page = agent.get(&authorize_url(&app, &params)).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let location = page.location.unwrap();
        assert_eq!(query_of(&location)["state"], "n");
        assert_eq!(organization_of(&app, &location).await, BIRCH);
    }

    // Acme was never approved: the page asks for Acme alone.
    let page = agent.get(&authorize_url(&app, &named(ACME))).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<select"), "{}", page.body);
    let fields = hidden_inputs(&page.body);
    assert!(fields.contains(&("organization".to_owned(), ACME.to_owned())));
    assert!(fields.contains(&("organization_id".to_owned(), ACME.to_owned())));
    assert!(unescape(&page.body).contains("Acme Legal"));
    // A form changed to approve another organization is refused.
    let mut forged: Vec<(String, String)> = fields
        .iter()
        .filter(|(name, _)| name != "organization")
        .cloned()
        .collect();
    forged.push(("organization".into(), BIRCH.into()));
    forged.push(("decision".into(), "approve".into()));
    let refused = agent.post_form("/consent", &forged).await;
    assert_eq!(query_of(&refused.location.unwrap())["error"], "invalid_request");
    let done = agent.consent(&page, "approve", None).await;
    assert_eq!(
        organization_of(&app, done.location.as_deref().unwrap()).await,
        ACME
    );

    // Not one of alice's organizations.
    let (_, elsewhere) = app
        .add_member("sam@example.com", SAM_PASSWORD, "Smith & Associates", "ATTORNEY")
        .await;
    let mut params = named(BIRCH);
    params[4] = ("organization_id", elsewhere.as_str());
    let page = agent.get(&authorize_url(&app, &params)).await;
    let location = page.location.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = query_of(&location);
    assert_eq!(query["error"], "invalid_request");
    assert!(
        query["error_description"].contains("organization_id"),
        "{query:?}"
    );
    assert_eq!(query["state"], "n");
    assert_eq!(query["iss"], app.state.config.issuer);
}

/// The organization a code (in a redirect `location`) acts on.
async fn organization_of(app: &TestApp, location: &str) -> String {
    let code = query_of(location)
        .get("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .clone();
    app.state
        .store
        .find_authorization_code(&latchkey::secret::Secret::new(code).digest())
        .await
        .unwrap()
        .unwrap()
        .organization_id
}

async fn prompt_login_and_max_age_force_a_new_sign_in(backend: Backend) {
    let (app, client_id) = setup(backend).await;
    // Named, so that remembered consent skips the page after signing in.
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("organization_id", ACME),
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
