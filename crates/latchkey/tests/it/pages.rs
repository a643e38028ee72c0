//! The page contract (SPEC 8): form fields, one generic sign-in error with
//! the email kept, throttling, CSRF tokens, security headers, the consent
//! page (scopes, destination, a single-organization user), the sign-in
//! page naming the app and offering "Not you?", the authorization error
//! page, sign-out, and no open redirect.

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::seed_integrations::{authorize_url, register};
use crate::user_agent::{ALICE, UserAgent, hidden_inputs, query_of};

backend_tests!(
    login_page_has_the_contract_fields_and_security_headers,
    wrong_credentials_get_one_generic_message_and_keep_the_email,
    forms_without_the_csrf_token_are_refused,
    single_organization_user_sees_no_picker,
    logout_ends_the_session_and_sign_in_never_redirects_off_site,
    sign_in_refuses_every_smuggled_return_to,
    csrf_tokens_are_bound_to_the_browser_and_its_session,
    home_and_settings_lead_through_sign_in_to_the_settings_layout,
    unknown_pages_answer_html_for_browsers_and_json_otherwise,
    login_page_names_the_app_and_offers_not_you_when_signed_in,
    consent_page_lists_scope_descriptions_in_order_and_where_the_user_goes,
    authorization_error_page_explains_names_the_app_and_leads_home,
);

async fn login_page_has_the_contract_fields_and_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent.get("/login").await;
    assert_eq!(page.status, 200);
    for field in [
        "name=\"email\"",
        "name=\"password\" type=\"password\"",
        "<button type=\"submit\"",
        "name=\"csrf_token\"",
    ] {
        assert!(page.body.contains(field), "{field} missing");
    }
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(csp.contains("img-src 'self' https:"), "{csp}");
    // Scripts only from this server (the Copy buttons), never inline.
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("latchkey_csrf=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    let css = app
        .http
        .get(app.url("/static/latchkey.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

async fn wrong_credentials_get_one_generic_message_and_keep_the_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    let wrong_password = agent.sign_in(&login, ALICE.0, "wrong password").await;
    let unknown_user = agent
        .sign_in(&login, "nobody@example.com", "wrong password")
        .await;
    for (page, email) in [(&wrong_password, ALICE.0), (&unknown_user, "nobody@example.com")] {
        assert_eq!(page.status, 401);
        assert!(
            page.body.contains("Incorrect email or password."),
            "{}",
            page.body
        );
        assert!(page.body.contains(&format!("value=\"{email}\"")), "email kept");
        assert!(!agent.has_cookie("latchkey_session"));
    }
    for _ in 0..4 {
        agent.sign_in(&login, ALICE.0, "wrong password").await;
    }
    let throttled = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(throttled.status, 429);
    assert!(
        throttled.body.contains("Too many failed attempts"),
        "{}",
        throttled.body
    );
}

async fn forms_without_the_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = UserAgent::new(&app.base_url);
    agent.get("/login").await;
    let fields = vec![
        ("email".to_owned(), ALICE.0.to_owned()),
        ("password".to_owned(), ALICE.1.to_owned()),
    ];
    let page = agent.post_form("/login", &fields).await;
    assert_eq!(page.status, 400);
    assert!(!agent.has_cookie("latchkey_session"));
    let mut forged = fields.clone();
    forged.push(("csrf_token".into(), "x".repeat(43)));
    assert_eq!(agent.post_form("/login", &forged).await.status, 400);
    let consent = agent
        .post_form("/consent", &[("decision".into(), "approve".into())])
        .await;
    assert_eq!((consent.status, consent.location), (400, None));
}

async fn single_organization_user_sees_no_picker(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, org_id) = app
        .add_member(
            "sam@example.com",
            "sam's long password",
            "Smith & Associates",
            "ATTORNEY",
        )
        .await;
    let redirect = "https://yourapp.com/oauth/callback";
    let (client_id, _) = register(&app, &[redirect], &["openid", "profile"]).await;
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent
        .get(&authorize_url(
            &app,
            &[("response_type", "code"), ("client_id", &client_id)],
        ))
        .await;
    let login = agent.follow(first).await;
    let signed_in = agent
        .sign_in(&login, "sam@example.com", "sam's long password")
        .await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200);
    assert!(!consent.body.contains("<select"));
    assert!(hidden_inputs(&consent.body).contains(&("organization".to_owned(), org_id.clone())));
    let done = agent.consent(&consent, "approve", None).await;
    let location = done.location.unwrap();
    assert!(location.starts_with(redirect) && query_of(&location).contains_key("code"));
}

async fn logout_ends_the_session_and_sign_in_never_redirects_off_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = UserAgent::new(&app.base_url);
    let mut login = agent.get("/login").await;
    for field in hidden_inputs(&login.body.clone()) {
        if field.0 == "return_to" {
            login.body = login.body.replace("value=\"/\"", "value=\"//evil.example/x\"");
        }
    }
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(
        signed_in.location.as_deref(),
        Some("/"),
        "an off-site return_to is ignored"
    );
    assert!(agent.has_cookie("latchkey_session"));

    let confirm = agent.get("/logout").await;
    assert_eq!(confirm.status, 200);
    let out = agent.post_form("/logout", &hidden_inputs(&confirm.body)).await;
    assert_eq!(out.status, 200);
    assert!(!agent.has_cookie("latchkey_session"));
    let redirect = "https://yourapp.com/oauth/callback";
    let (client_id, _) = register(&app, &[redirect], &["openid"]).await;
    let page = agent
        .get(&authorize_url(
            &app,
            &[("response_type", "code"), ("client_id", &client_id)],
        ))
        .await;
    assert!(page.location.unwrap().starts_with("/login?"), "signed out");
}

/// The hostile-input campaign's `return_to` variants: each is refused by
/// the sign-in form and by the page that shows it, so signing in lands on
/// the home page of this server.
async fn sign_in_refuses_every_smuggled_return_to(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    for target in [
        "/\t/evil.example/",
        "/%09/evil.example/",
        "/\n/evil.example/",
        "/\r\n/evil.example/",
        "/\\/evil.example/",
        "/%5c/evil.example/",
        "//evil.example/",
        "/%2f%2fevil.example/",
        "https://evil.example/",
        "/\u{3000}/evil.example/",
    ] {
        let mut agent = UserAgent::new(&app.base_url);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", target)
            .finish();
        let login = agent.get(&format!("/login?{query}")).await;
        let shown: Vec<_> = hidden_inputs(&login.body);
        assert!(
            shown.contains(&("return_to".to_owned(), "/".to_owned())),
            "{target:?}: {shown:?}"
        );
        let mut fields = shown;
        for field in &mut fields {
            if field.0 == "return_to" {
                field.1 = target.to_owned();
            }
        }
        fields.push(("email".into(), ALICE.0.into()));
        fields.push(("password".into(), ALICE.1.into()));
        let signed_in = agent.post_form("/login", &fields).await;
        assert_eq!(signed_in.status, 303);
        assert_eq!(signed_in.location.as_deref(), Some("/"), "{target:?}");
    }
}

/// CSRF tokens are an HMAC of the CSRF cookie and the session: a planted
/// cookie with a matching field (the old double submit) is refused, and so
/// is a real token presented with another session or after signing in
/// again.
async fn csrf_tokens_are_bound_to_the_browser_and_its_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let token_of = |page: &crate::user_agent::Page| {
        hidden_inputs(&page.body)
            .into_iter()
            .find(|(name, _)| name == "csrf_token")
            .unwrap()
    };

    // A planted cookie and the same value in the form.
    let mut attacker = UserAgent::new(&app.base_url);
    let planted = "p".repeat(43);
    attacker.set_cookie("latchkey_csrf", &planted);
    let fields = vec![
        ("csrf_token".to_owned(), planted.clone()),
        ("email".to_owned(), ALICE.0.to_owned()),
        ("password".to_owned(), ALICE.1.to_owned()),
    ];
    assert_eq!(attacker.post_form("/login", &fields).await.status, 400);

    // Alice's sign-out form, submitted from another browser and session.
    let mut alice = UserAgent::new(&app.base_url);
    let login = alice.get("/login").await;
    assert_eq!(alice.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    let confirm = alice.get("/logout").await;
    let alice_token = token_of(&confirm);
    let mut other = UserAgent::new(&app.base_url);
    let login = other.get("/login").await;
    assert_eq!(other.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    assert_eq!(
        other
            .post_form("/logout", std::slice::from_ref(&alice_token))
            .await
            .status,
        400
    );
    // The same CSRF cookie as Alice's, but not her session.
    other.set_cookie("latchkey_csrf", alice.cookie("latchkey_csrf").unwrap());
    assert_eq!(
        other
            .post_form("/logout", std::slice::from_ref(&alice_token))
            .await
            .status,
        400
    );

    // A form rendered before signing in again no longer counts.
    let login = alice.get("/login").await;
    assert_eq!(alice.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    assert_eq!(alice.post_form("/logout", &[alice_token]).await.status, 400);
    let fresh = token_of(&alice.get("/logout").await);
    assert_eq!(alice.post_form("/logout", &[fresh]).await.status, 200);
}

/// `/` and the settings prefix: signed out, the sign-in page and back;
/// signed in, the settings layout with navigation (admin sections only for
/// organization admins) and a sign-out form.
async fn home_and_settings_lead_through_sign_in_to_the_settings_layout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    for start in ["/", "/settings"] {
        let mut agent = UserAgent::new(&app.base_url);
        let page = agent.get(start).await;
        assert_eq!(page.status, 303);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", start)
            .finish();
        assert_eq!(page.location.as_deref(), Some(format!("/login?{query}").as_str()));
        let login = agent.follow(page).await;
        let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
        assert_eq!(signed_in.location.as_deref(), Some(start));
        let home = agent.follow(signed_in).await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("<h1>Connected Apps</h1>"), "{}", home.body);
        for link in [
            "/settings/connected-apps",
            "/settings/oauth-apps",
            "/settings/api-keys",
        ] {
            assert!(
                home.body.contains(&format!("href=\"{link}\"")),
                "{link} in the navigation"
            );
        }
        assert!(home.body.contains("Alice Example") && home.body.contains(">Sign out</button>"));
    }

    // Signing in at /login with nothing pending lands on the home page.
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.location.as_deref(), Some("/"));

    // A member who administers no organization sees only Connected Apps.
    app.add_member(
        "sam@example.com",
        "sam's long password",
        "Smith & Associates",
        "ATTORNEY",
    )
    .await;
    let mut sam = UserAgent::new(&app.base_url);
    let login = sam.get("/login").await;
    let signed_in = sam
        .sign_in(&login, "sam@example.com", "sam's long password")
        .await;
    let home = sam.follow(signed_in).await;
    assert!(home.body.contains("href=\"/settings/connected-apps\""));
    assert!(
        !home.body.contains("href=\"/settings/oauth-apps\""),
        "{}",
        home.body
    );

    // A form address reached by a GET (a sign-in coming back to it) leads
    // to its page.
    let back = sam.get("/settings/connected-apps/revoke").await;
    assert_eq!(back.location.as_deref(), Some("/settings/connected-apps"));

    // Sign out from the layout.
    let out = sam.post_form("/logout", &hidden_inputs(&home.body)).await;
    assert_eq!(out.status, 200);
    assert_eq!(sam.get("/settings").await.status, 303, "signed out");
}

async fn unknown_pages_answer_html_for_browsers_and_json_otherwise(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app
        .http
        .get(app.url("/no/such/page"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = page.text().await.unwrap();
    assert!(body.contains("Page not found") && body.contains("href=\"/\""));
    let (status, json) = app.get_json("/no/such/page").await;
    assert_eq!((status, json["error"].as_str()), (404, Some("not_found")));
}

/// The sign-in page of an authorization request names the app, read from
/// the request's own `client_id`; signed in already, it offers "Not
/// you?", which signs out and comes back to it.
async fn login_page_names_the_app_and_offers_not_you_when_signed_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let redirect = "https://yourapp.com/oauth/callback";
    let (client_id, _) = register(&app, &[redirect], &["openid"]).await;
    let request = authorize_url(&app, &[("response_type", "code"), ("client_id", &client_id)]);
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(&request).await;
    let login = agent.follow(first).await;
    assert!(
        login
            .body
            .contains("Sign in to continue to <span class=\"app-name\">Salesforce Production</span>"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("Not you?"), "nobody is signed in");

    // Anything but an authorization request of a registered app names none.
    for return_to in [
        "/settings?client_id=CLIENT".to_owned(),
        "/api/oauth/authorize?client_id=client_unknown".to_owned(),
        "/api/oauth/authorize?client_id=CLIENT&client_id=CLIENT".to_owned(),
        "https://evil.example/api/oauth/authorize?client_id=CLIENT".to_owned(),
    ] {
        let return_to = return_to.replace("CLIENT", &client_id);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &return_to)
            .finish();
        let page = agent.get(&format!("/login?{query}")).await;
        assert!(
            page.body.contains("<h1>Sign in</h1>"),
            "{return_to}: {}",
            page.body
        );
    }

    // Signed in, asked to sign in again: "Not you?" signs out and returns.
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303);
    let again = agent.get(&format!("{request}&prompt=login")).await;
    let login_again = agent.follow(again).await;
    assert!(login_again.body.contains("Salesforce Production"));
    assert!(
        login_again
            .body
            .contains("Signed in as <strong>alice@example.com</strong>")
    );
    assert!(
        login_again.body.contains(&format!("value=\"{}\"", ALICE.0)),
        "email filled in"
    );
    let not_you = login_again
        .body
        .split("<a href=\"")
        .find_map(|rest| {
            let (href, text) = rest.split_once("\">")?;
            text.starts_with("Not you?")
                .then(|| crate::user_agent::unescape(href))
        })
        .expect("a Not you? link");
    let confirm = agent.get(&not_you).await;
    assert_eq!(confirm.status, 200);
    let out = agent.post_form("/logout", &hidden_inputs(&confirm.body)).await;
    assert_eq!(out.status, 303);
    assert!(!agent.has_cookie("latchkey_session"), "signed out");
    let back = out.location.unwrap();
    assert!(back.starts_with("/login?return_to="), "{back}");
    let fresh = agent.get(&back).await;
    assert!(fresh.body.contains("Salesforce Production"));
    assert!(!fresh.body.contains("Not you?"));
    let signed_in = agent.sign_in(&fresh, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert!(consent.body.contains("name=\"decision\""), "back in the flow");
}

/// The consent page lists the scopes as sentences in vocabulary order
/// (identifiers only under a disclosure), the description as plain text,
/// and where the browser goes next.
async fn consent_page_lists_scope_descriptions_in_order_and_where_the_user_goes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let redirect = "https://yourapp.com/oauth/callback";
    let client = app
        .create_client(serde_json::json!({
            "name": "Case Sync",
            "description": "Copies `cases` into **your** CRM <b>hourly</b>.",
            "redirectUris": [redirect],
            "allowed_scopes": ["openid", "email", "cases:read"],
        }))
        .await;
    let client_id = client["clientId"].as_str().unwrap();
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("scope", "cases:read email openid"),
        ],
    );
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(&url).await;
    let login = agent.follow(first).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let page = agent.follow(signed_in).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    let sentences = [
        "<li>Sign you in and know who you are</li>",
        "<li>See your email address</li>",
        "<li>Read cases, referrals, firms and routing</li>",
    ];
    let at: Vec<usize> = sentences
        .iter()
        .map(|s| body.find(s).unwrap_or_else(|| panic!("{s} missing: {body}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "vocabulary order: {body}");
    let details = body.find("<details").expect("identifiers under a disclosure");
    for identifier in [
        "<code>openid</code>",
        "<code>email</code>",
        "<code>cases:read</code>",
    ] {
        assert!(body.find(identifier).is_some_and(|i| i > details), "{identifier}");
    }
    assert!(
        body.contains("Copies `cases` into **your** CRM &#60;b&#62;hourly&#60;/b&#62;.")
            || body.contains("Copies `cases` into **your** CRM &lt;b&gt;hourly&lt;/b&gt;."),
        "the description as plain text: {body}"
    );
    assert!(!body.contains("<b>hourly"));
    assert!(
        body.contains("You will be sent to <strong>yourapp.com</strong>"),
        "{body}"
    );
}

/// An authorization request that cannot go back to its app gets a page
/// saying so in plain words, naming the app when it is registered, with a
/// way home and the protocol error for developers under a disclosure.
async fn authorization_error_page_explains_names_the_app_and_leads_home(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client_id, _) = register(&app, &["https://yourapp.com/oauth/callback"], &["openid"]).await;
    let mut agent = UserAgent::new(&app.base_url);
    let page = agent
        .get(&authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        ))
        .await;
    assert_eq!((page.status, page.location.is_none()), (400, true));
    let body = &page.body;
    assert!(
        crate::user_agent::unescape(body).contains("<h1>Can't continue to Salesforce Production</h1>"),
        "{body}"
    );
    assert!(
        body.contains("cannot confirm where to send you back to Salesforce Production"),
        "{body}"
    );
    assert!(body.contains("role=\"alert\""));
    assert!(
        body.contains("<a class=\"button-link\" href=\"/\">"),
        "a way back: {body}"
    );
    let details = body.find("<details").expect("developer details");
    let code = body.find("<code>invalid_request</code>").unwrap();
    let description = body
        .find("redirect_uri is not registered for this client")
        .unwrap();
    assert!(code > details && description > details);

    let page = agent
        .get(&authorize_url(
            &app,
            &[("response_type", "code"), ("client_id", "client_unknown")],
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("<h1>This sign-in link does not work</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("not registered with Latchkey"));
    assert!(page.body.contains("<code>invalid_client</code>"));
    assert!(!page.body.contains("Salesforce Production"));

    app.admin(
        reqwest::Method::POST,
        &format!("/oauth-clients/{client_id}/disable"),
        None,
    )
    .await;
    let page = agent
        .get(&authorize_url(
            &app,
            &[("response_type", "code"), ("client_id", &client_id)],
        ))
        .await;
    assert!(
        page.body
            .contains("<h1>Salesforce Production is not available</h1>"),
        "{}",
        page.body
    );
}
