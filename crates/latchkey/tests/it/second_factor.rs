//! Two-step verification: enrolling an authenticator app (a wrong first
//! code refused, the right one turns it on and shows recovery codes once),
//! the second step of a sign-in (no session before it; the right code
//! gives an ID token with `amr` ["pwd","otp","mfa"] and `acr` 2fa through
//! a real code exchange; a code accepted once), recovery codes (each
//! once), throttling of wrong codes (then even a right one is refused),
//! `prompt=login` asking for both factors again, removal after the
//! password, CSRF, and the organization rule "members must use a second
//! factor" (set up before a session; step-up of a one-factor session),
//! and `acr_values` asking for two factors. Codes are computed here from the setup key the page
//! shows, with the same TOTP crate.

use base64::Engine;
use reqwest::Method;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::seed_integrations::{authorize_url, register, token_form};
use crate::user_agent::{ALICE, Page, UserAgent, element_text, form_inputs, links, query_of, unescape};

backend_tests!(
    enrolment_needs_the_right_code_and_sign_in_then_asks_for_one,
    a_recovery_code_signs_in_once,
    wrong_codes_are_throttled_and_then_even_a_right_one_is_refused,
    prompt_login_asks_for_both_factors_again,
    turning_it_off_needs_the_current_password,
    second_factor_forms_refuse_a_missing_csrf_token,
    a_member_of_an_organization_that_requires_it_sets_it_up_before_a_session,
    an_authorization_for_such_an_organization_steps_up_a_one_factor_session,
    the_cli_sets_and_shows_the_organization_rule,
    acr_values_asking_for_two_factors_signs_a_one_factor_session_in_again,
    an_operator_removes_the_second_factors_of_a_user_who_lost_them,
);

const REDIRECT: &str = "https://yourapp.com/oauth/callback";
const ACME: &str = "3f1c2a10-5b7e-4c1d-9a00-00000000ac01";
const PAGE: &str = "/settings/two-step";
const STEP: &str = "/login/second-factor";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The authenticator app a person sets up from the page's setup key.
pub struct App(totp_rs::Totp);

impl App {
    pub fn from_setup_key(key: &str) -> Self {
        let key: String = key.split_whitespace().collect();
        let secret = totp_rs::Secret::try_from_base32(&key).unwrap();
        Self(totp_rs::Builder::new().with_secret(secret).build().unwrap())
    }

    /// The secret in base32, as the setup key reads without spaces.
    pub fn setup_key(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The code `steps` time steps from now.
    pub fn code(&self, steps: i64) -> String {
        let at = now().checked_add_signed(steps * 30).unwrap();
        self.0.generate(at).to_string()
    }

    /// A code that is none of the app's codes around now.
    pub fn wrong_code(&self) -> String {
        let near: Vec<String> = (-2..=2).map(|s| self.code(s)).collect();
        (0..1_000_000)
            .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
            .find(|candidate| !near.contains(candidate))
            .unwrap()
    }
}

/// A browser signed in as `user` with a password alone.
async fn signed_in(app: &TestApp, user: (&str, &str)) -> UserAgent {
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    let done = agent.sign_in(&login, user.0, user.1).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(agent.has_cookie("latchkey_session"));
    agent
}

/// Turns on an authenticator app for the signed-in `agent` (checking the
/// enrolment page on the way): the app and the recovery codes shown.
pub async fn enrol(agent: &mut UserAgent, email: &str) -> (App, Vec<String>) {
    let page = agent.get(PAGE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Two-step verification</h1>"));
    assert!(
        page.body
            .contains("href=\"/settings/two-step\" aria-current=\"page\"")
    );
    assert!(page.body.contains(">Set up an authenticator app</button>"));
    let started = agent
        .post_form(
            &format!("{PAGE}/totp/start"),
            &form_inputs(&page.body, &format!("{PAGE}/totp/start")),
        )
        .await;
    assert_eq!(started.location.as_deref(), Some(PAGE));
    let setup = agent.get(PAGE).await;
    assert!(setup.body.contains("<svg role=\"img\""), "{}", setup.body);
    assert!(!setup.body.contains("<?xml"));
    let key = element_text(&setup.body, "setup-key").unwrap();
    assert_eq!(
        key.split(' ').count(),
        8,
        "32 base32 characters in groups of four: {key}"
    );
    let plain: String = key.split_whitespace().collect();
    let uri = links(&setup.body)
        .into_iter()
        .find(|href| href.starts_with("otpauth://"))
        .unwrap();
    let label = format!("otpauth://totp/Latchkey:{}?", email.replace('@', "%40"));
    assert!(uri.starts_with(&label), "{uri}");
    assert!(
        uri.contains(&format!("secret={plain}")) && uri.contains("issuer=Latchkey"),
        "{uri}"
    );
    assert!(setup.body.contains("autocomplete=\"one-time-code\""));
    let app = App::from_setup_key(&key);

    let confirm = format!("{PAGE}/totp/confirm");
    let mut fields = form_inputs(&setup.body, &confirm);
    fields.push(("code".into(), app.wrong_code()));
    let refused = agent.post_form(&confirm, &fields).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("That code is not right."));
    assert!(refused.body.contains("<svg role=\"img\""), "still pending");

    fields.pop();
    fields.push(("code".into(), app.code(0)));
    let on = agent.post_form(&confirm, &fields).await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert!(on.body.contains("Two-step verification is on."));
    assert!(on.body.contains("10 of 10 recovery codes left."));
    let codes: Vec<String> = element_text(&on.body, "recovery-codes")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    // Shown once.
    let again = agent.get(PAGE).await;
    assert!(!again.body.contains(&codes[0]));
    (app, codes)
}

/// Signs in with the password in a new browser that goes to `url` first:
/// the second step's page (no session yet).
async fn password_then_second_step(app: &TestApp, url: &str, user: (&str, &str)) -> (UserAgent, Page) {
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(url).await;
    let login = agent.follow(first).await;
    let after = agent.sign_in(&login, user.0, user.1).await;
    assert_eq!(after.status, 303, "{}", after.body);
    assert_eq!(after.location.as_deref(), Some(STEP));
    assert!(
        !agent.has_cookie("latchkey_session"),
        "no session before the second factor"
    );
    assert!(agent.has_cookie("latchkey_pending"));
    let page = agent.get(STEP).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (agent, page)
}

/// Submits `code` on the second step's page (for the method it shows).
async fn submit_code(agent: &mut UserAgent, page: &Page, code: &str) -> Page {
    let mut fields = form_inputs(&page.body, STEP);
    fields.push(("code".into(), code.into()));
    agent.post_form(STEP, &fields).await
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let (status, events) = app.admin(Method::GET, "/audit-events", None).await;
    assert_eq!(status, 200, "{events}");
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn enrolment_needs_the_right_code_and_sign_in_then_asks_for_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid", "email"]).await;
    let mut owner = signed_in(&app, ALICE).await;
    let (authenticator, _) = enrol(&mut owner, ALICE.0).await;
    assert!(
        audit_actions(&app)
            .await
            .contains(&"user.totp_enabled".to_owned())
    );

    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("organization_id", ACME),
    ];
    let url = authorize_url(&app, &params);
    let (mut agent, step) = password_then_second_step(&app, &url, ALICE).await;
    assert!(step.body.contains("<h1>Two-step verification</h1>"));
    assert!(
        step.body
            .contains("<label for=\"code\">Enter the 6-digit code from your authenticator app</label>")
    );
    assert!(
        step.body.contains("inputmode=\"numeric\"") && step.body.contains("autocomplete=\"one-time-code\"")
    );
    assert!(links(&step.body).contains(&format!("{STEP}?method=recovery-code")));
    assert!(step.body.contains(">Use a recovery code</a>"));

    let wrong = submit_code(&mut agent, &step, &authenticator.wrong_code()).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("That code is not right."), "{}", wrong.body);
    assert!(!agent.has_cookie("latchkey_session"));

    // The code of the confirming step was used already; the next one is
    // within the accepted drift.
    let replayed = submit_code(&mut agent, &step, &authenticator.code(0)).await;
    assert_eq!(
        replayed.status, 401,
        "the enrolment's code is used: {}",
        replayed.body
    );
    let code = authenticator.code(1);
    let done = submit_code(&mut agent, &step, &code).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let authorize = &app.state.config.paths.authorize;
    assert!(
        done.location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{authorize}?"))
    );
    assert!(agent.has_cookie("latchkey_session"));
    assert!(!agent.has_cookie("latchkey_pending"), "the pending sign-in ends");
    let consent = agent.follow(done).await;
    let redirected = agent.consent(&consent, "approve", None).await;
    let location = redirected.location.unwrap();
    let query = query_of(&location);
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(id_token["acr"], "urn:latchkey:acr:2fa");

    // The same code again, in another browser: refused.
    let (mut other, step) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    let replayed = submit_code(&mut other, &step, &code).await;
    assert_eq!(replayed.status, 401, "a code is accepted once");
    assert!(!other.has_cookie("latchkey_session"));

    // Without the pending sign-in, the step leads to the sign-in page.
    let mut stranger = UserAgent::new(&app.base_url);
    let away = stranger.get(STEP).await;
    assert_eq!(away.status, 303);
    assert!(away.location.unwrap().starts_with("/login?"));
}

async fn a_recovery_code_signs_in_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut owner = signed_in(&app, ALICE).await;
    let (_, codes) = enrol(&mut owner, ALICE.0).await;

    let (mut agent, _) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    let page = agent.get(&format!("{STEP}?method=recovery-code")).await;
    assert!(
        page.body
            .contains("<label for=\"code\">Enter one of your recovery codes</label>")
    );
    assert!(page.body.contains(">Use your authenticator app</a>"));
    // Typed loosely: upper case, without the dash.
    let typed = codes[3].replace('-', "").to_uppercase();
    let done = submit_code(&mut agent, &page, &typed).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/settings/sessions"));
    assert!(agent.has_cookie("latchkey_session"));
    let settings = agent.get(PAGE).await;
    assert!(
        settings.body.contains("9 of 10 recovery codes left."),
        "{}",
        settings.body
    );
    assert!(
        audit_actions(&app)
            .await
            .contains(&"user.recovery_code_used".to_owned())
    );

    let (mut again, _) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    let page = again.get(&format!("{STEP}?method=recovery-code")).await;
    let refused = submit_code(&mut again, &page, &codes[3]).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .body
            .contains("That recovery code is not right, or it was used already.")
    );
    assert!(!again.has_cookie("latchkey_session"));

    // New codes replace the old.
    let page = agent.get(PAGE).await;
    let action = format!("{PAGE}/recovery-codes");
    let fresh = agent.post_form(&action, &form_inputs(&page.body, &action)).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let new_codes = element_text(&fresh.body, "recovery-codes").unwrap();
    assert_eq!(new_codes.lines().count(), 10);
    let (mut third, _) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    let page = third.get(&format!("{STEP}?method=recovery-code")).await;
    let refused = submit_code(&mut third, &page, &codes[0]).await;
    assert_eq!(refused.status, 401, "an old code stopped working");
    let done = submit_code(&mut third, &page, new_codes.lines().next().unwrap()).await;
    assert_eq!(done.status, 303);
}

async fn wrong_codes_are_throttled_and_then_even_a_right_one_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut owner = signed_in(&app, ALICE).await;
    let (authenticator, codes) = enrol(&mut owner, ALICE.0).await;
    let (mut agent, step) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    for _ in 0..latchkey::accounts::throttle::MAX_FAILURES {
        let wrong = submit_code(&mut agent, &step, &authenticator.wrong_code()).await;
        assert_eq!(wrong.status, 401);
    }
    let refused = submit_code(&mut agent, &step, &authenticator.code(1)).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Too many wrong codes. Wait a few minutes and try again.")
    );
    let page = agent.get(&format!("{STEP}?method=recovery-code")).await;
    let refused = submit_code(&mut agent, &page, &codes[0]).await;
    assert_eq!(refused.status, 429, "recovery codes count alike");
    assert!(!agent.has_cookie("latchkey_session"));
}

async fn prompt_login_asks_for_both_factors_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, _) = register(&app, &[REDIRECT], &["openid"]).await;
    let mut owner = signed_in(&app, ALICE).await;
    let (authenticator, codes) = enrol(&mut owner, ALICE.0).await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("organization_id", ACME),
    ];
    let (mut agent, step) = password_then_second_step(&app, &authorize_url(&app, &base), ALICE).await;
    let done = submit_code(&mut agent, &step, &authenticator.code(1)).await;
    let consent = agent.follow(done).await;
    let first = agent.consent(&consent, "approve", None).await;
    assert!(first.location.unwrap().contains("code="));

    let mut params = base.to_vec();
    params.push(("prompt", "login"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let page = agent.get(&authorize_url(&app, &params)).await;
    let location = page.location.unwrap();
    assert!(location.starts_with("/login?"), "{location}");
    let login = agent.get(&location).await;
    let after = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(
        after.location.as_deref(),
        Some(STEP),
        "the second factor is asked again"
    );
    let page = agent.get(&format!("{STEP}?method=recovery-code")).await;
    let done = submit_code(&mut agent, &page, &codes[0]).await;
    assert_eq!(done.status, 303);
    let finished = agent.follow(done).await;
    let location = finished.location.unwrap_or_else(|| panic!("{}", finished.body));
    assert!(
        location.starts_with(REDIRECT) && location.contains("code="),
        "{location}"
    );
}

async fn turning_it_off_needs_the_current_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut owner = signed_in(&app, ALICE).await;
    enrol(&mut owner, ALICE.0).await;
    let page = owner.get(PAGE).await;
    assert!(
        page.body
            .contains("<label for=\"password\">Current password</label>")
    );
    let action = format!("{PAGE}/totp/remove");
    let mut fields = form_inputs(&page.body, &action);
    fields.push(("password".into(), "not the password".into()));
    let refused = owner.post_form(&action, &fields).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .body
            .contains("Incorrect password. Two-step verification is still on.")
    );
    fields.pop();
    fields.push(("password".into(), ALICE.1.into()));
    let off = owner.post_form(&action, &fields).await;
    assert_eq!(off.status, 303, "{}", off.body);
    let page = owner.follow(off).await;
    assert!(page.body.contains("Two-step verification is off."));
    assert!(page.body.contains(">Set up an authenticator app</button>"));
    assert!(
        audit_actions(&app)
            .await
            .contains(&"user.totp_removed".to_owned())
    );
    // The password alone signs in again.
    signed_in(&app, ALICE).await;
}

async fn second_factor_forms_refuse_a_missing_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut owner = signed_in(&app, ALICE).await;
    let (authenticator, _) = enrol(&mut owner, ALICE.0).await;
    for action in ["totp/start", "totp/confirm", "totp/remove", "recovery-codes"] {
        let fields = vec![
            ("code".to_owned(), authenticator.code(1)),
            ("password".to_owned(), ALICE.1.to_owned()),
        ];
        let refused = owner.post_form(&format!("{PAGE}/{action}"), &fields).await;
        assert_eq!(refused.status, 400, "{action}");
        assert!(refused.body.contains("This form has expired"), "{action}");
    }
    let (mut agent, _) = password_then_second_step(&app, "/settings/sessions", ALICE).await;
    let fields = vec![
        ("method".to_owned(), "totp".to_owned()),
        ("code".to_owned(), authenticator.code(1)),
    ];
    let refused = agent.post_form(STEP, &fields).await;
    assert_eq!(refused.status, 400);
    assert!(!agent.has_cookie("latchkey_session"));
    // The token was not spent: the code still works with the form's token.
    let page = agent.get(STEP).await;
    assert_eq!(
        submit_code(&mut agent, &page, &authenticator.code(1))
            .await
            .status,
        303
    );
}

const SETUP: &str = "/login/second-factor/setup";

/// Completes the setup page of a pending sign-in: the recovery codes page.
async fn set_up_during_sign_in(agent: &mut UserAgent, organization: &str) -> Page {
    let page = agent.get(SETUP).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Set up two-step verification</h1>"));
    assert!(unescape(&page.body).contains(organization), "{}", page.body);
    assert!(page.body.contains("<svg role=\"img\""));
    let authenticator = App::from_setup_key(&element_text(&page.body, "setup-key").unwrap());
    let mut fields = form_inputs(&page.body, SETUP);
    fields.push(("code".into(), authenticator.wrong_code()));
    // A session from before (one factor, for a step-up) stays as it was
    // until the new one starts.
    let before = agent.cookie("latchkey_session").map(str::to_owned);
    let refused = agent.post_form(SETUP, &fields).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("That code is not right."));
    assert_eq!(agent.cookie("latchkey_session").map(str::to_owned), before);
    fields.pop();
    fields.push(("code".into(), authenticator.code(0)));
    let on = agent.post_form(SETUP, &fields).await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert!(on.body.contains("<h1>Two-step verification is on</h1>"));
    assert_eq!(
        element_text(&on.body, "recovery-codes").unwrap().lines().count(),
        10
    );
    let after = agent.cookie("latchkey_session").map(str::to_owned);
    assert!(after.is_some() && after != before, "a new session starts");
    assert!(!agent.has_cookie("latchkey_pending"));
    on
}

async fn a_member_of_an_organization_that_requires_it_sets_it_up_before_a_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = serde_json::json!({"name": "Vault & Co", "requireSecondFactor": true});
    let (status, org) = app.admin(Method::POST, "/organizations", Some(body)).await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(org["data"]["requireSecondFactor"], true);
    let org_id = org["data"]["id"].as_str().unwrap();
    let (_, listed) = app.admin(Method::GET, "/organizations", None).await;
    assert_eq!(listed["data"][0]["requireSecondFactor"], true);
    let member = ("vera@example.com", "vera's long password");
    app.add_member_to(member.0, member.1, org_id, "member").await;

    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login?return_to=%2Fsettings%2Fsessions").await;
    let after = agent.sign_in(&login, member.0, member.1).await;
    assert_eq!(after.location.as_deref(), Some(SETUP));
    assert!(
        !agent.has_cookie("latchkey_session"),
        "no session before a second factor"
    );
    // The settings pages are out of reach meanwhile.
    assert!(
        agent
            .get("/settings/sessions")
            .await
            .location
            .unwrap()
            .starts_with("/login?")
    );
    let on = set_up_during_sign_in(&mut agent, "Vault & Co").await;
    assert!(
        links(&on.body).contains(&"/settings/sessions".to_owned()),
        "continues"
    );
    assert_eq!(agent.get("/settings/sessions").await.status, 200);

    // It stays on while the organization requires it.
    let page = agent.get(PAGE).await;
    let action = format!("{PAGE}/totp/remove");
    let mut fields = form_inputs(&page.body, &action);
    fields.push(("password".into(), member.1.into()));
    let refused = agent.post_form(&action, &fields).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("requires two-step verification of its members"),
        "{}",
        refused.body
    );

    // Lifted (audited), the password alone signs in new members.
    let body = serde_json::json!({"requireSecondFactor": false});
    let (status, updated) = app
        .admin(Method::PATCH, &format!("/organizations/{org_id}"), Some(body))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["requireSecondFactor"], false);
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/organizations/{org_id}"),
            Some(serde_json::json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused");
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/organizations/missing",
            Some(serde_json::json!({"requireSecondFactor": true})),
        )
        .await;
    assert_eq!(status, 404);
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "organization.second_factor_rule_changed")
            .count(),
        2,
        "{actions:?}"
    );
    app.add_member_to("walt@example.com", "walt's long password", org_id, "member")
        .await;
    signed_in(&app, ("walt@example.com", "walt's long password")).await;
}

async fn an_authorization_for_such_an_organization_steps_up_a_one_factor_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid"]).await;
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("organization_id", ACME),
    ];
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent
        .authorize(&authorize_url(&app, &base), ALICE, "approve", None)
        .await;
    assert!(
        done.location.unwrap().contains("code="),
        "one factor is enough for now"
    );

    let body = serde_json::json!({"requireSecondFactor": true});
    let (status, _) = app
        .admin(Method::PATCH, &format!("/organizations/{ACME}"), Some(body))
        .await;
    assert_eq!(status, 200);
    let mut silent = base.to_vec();
    silent.push(("prompt", "none"));
    let refused = agent.get(&authorize_url(&app, &silent)).await;
    let location = refused.location.unwrap();
    assert!(
        location.starts_with(REDIRECT) && location.contains("error=login_required"),
        "{location}"
    );

    // The same session is sent to sign in again, and must set up a
    // second factor before it continues.
    let page = agent.get(&authorize_url(&app, &base)).await;
    let location = page.location.unwrap();
    assert!(location.starts_with("/login?"), "step-up: {location}");
    let login = agent.get(&location).await;
    let after = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(after.location.as_deref(), Some(SETUP));
    let on = set_up_during_sign_in(&mut agent, "Acme").await;
    let next = links(&on.body)
        .into_iter()
        .find(|l| l.contains("authorize"))
        .unwrap();
    let done = agent.get(&next).await;
    let done = agent.follow(done).await;
    let location = done.location.unwrap_or_else(|| panic!("{}", done.body));
    assert!(
        location.starts_with(REDIRECT) && location.contains("code="),
        "{location}"
    );
    let query = query_of(&location);
    let (status, tokens, _) = token_form(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

async fn the_cli_sets_and_shows_the_organization_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.cli(
        &["orgs", "create", "--name", "Strict", "--require-second-factor"],
        None,
    );
    assert!(created.status.success(), "{created:?}");
    let id = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let show = |app: &TestApp| {
        let shown = app.cli(&["orgs", "show", &id], None);
        assert!(shown.status.success(), "{shown:?}");
        serde_json::from_slice::<Value>(&shown.stdout).unwrap()["requireSecondFactor"].clone()
    };
    assert_eq!(show(&app), true);
    let off = app.cli(&["orgs", "update", &id, "--no-require-second-factor"], None);
    assert!(off.status.success(), "{off:?}");
    assert_eq!(show(&app), false);
    let on = app.cli(&["orgs", "update", &id, "--require-second-factor"], None);
    assert!(on.status.success());
    assert_eq!(show(&app), true);
    let neither = app.cli(&["orgs", "update", &id], None);
    assert!(!neither.status.success(), "one of the two flags is needed");
    let both = app.cli(
        &[
            "orgs",
            "update",
            &id,
            "--require-second-factor",
            "--no-require-second-factor",
        ],
        None,
    );
    assert!(!both.status.success());
    let missing = app.cli(&["orgs", "update", "nope", "--require-second-factor"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no organization has the id `nope`"));
    let (_, org) = app
        .admin(Method::GET, &format!("/organizations/{id}"), None)
        .await;
    assert_eq!(org["data"]["requireSecondFactor"], true);
}

/// The code flow for `base` in `agent` (signed in already) ends at the
/// client: the ID token of the code.
async fn id_token_after(app: &TestApp, agent: &mut UserAgent, url: &str, client: (&str, &str)) -> Value {
    let first = agent.get(url).await;
    let mut page = agent.follow(first).await;
    if page.status == 200 && page.body.contains("name=\"decision\"") {
        page = agent.consent(&page, "approve", None).await;
    }
    let location = page.location.unwrap_or_else(|| panic!("{}", page.body));
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = query_of(&location);
    let (status, tokens, _) = token_form(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", client.0),
            ("client_secret", client.1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    jwt_payload(tokens["id_token"].as_str().unwrap())
}

async fn acr_values_asking_for_two_factors_signs_a_one_factor_session_in_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let (client_id, secret) = register(&app, &[REDIRECT], &["openid"]).await;
    let client = (client_id.as_str(), secret.as_str());
    let base = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("organization_id", ACME),
        ("acr_values", "urn:latchkey:acr:2fa urn:latchkey:acr:1fa"),
    ];
    let url = authorize_url(&app, &base);
    // Signed in with the password, then enrolled: a one-factor session.
    let mut agent = signed_in(&app, ALICE).await;
    let (authenticator, _) = enrol(&mut agent, ALICE.0).await;
    let page = agent.get(&url).await;
    let location = page.location.unwrap();
    assert!(location.starts_with("/login?"), "{location}");
    let login = agent.get(&location).await;
    let after = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(after.location.as_deref(), Some(STEP));
    let step = agent.get(STEP).await;
    let done = submit_code(&mut agent, &step, &authenticator.code(1)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let id_token = id_token_after(&app, &mut agent, done.location.as_deref().unwrap(), client).await;
    assert_eq!(id_token["acr"], "urn:latchkey:acr:2fa");
    // The two-factor session meets it at once from now on.
    let id_token = id_token_after(&app, &mut agent, &url, client).await;
    assert_eq!(id_token["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // A user without a second factor is not sent round in circles: the
    // request goes on, and the token says one factor.
    let sam = ("sam@example.com", "sam's long password");
    app.add_member_to(sam.0, sam.1, ACME, "member").await;
    let mut agent = signed_in(&app, sam).await;
    let id_token = id_token_after(&app, &mut agent, &url, client).await;
    assert_eq!(id_token["acr"], "urn:latchkey:acr:1fa");
}

/// A user who lost their phone and recovery codes gets back in through the
/// operator: the admin API (or the CLI) removes the authenticator app and
/// every passkey, audited, and the password alone signs in again.
async fn an_operator_removes_the_second_factors_of_a_user_who_lost_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut owner = signed_in(&app, ALICE).await;
    enrol(&mut owner, ALICE.0).await;
    let alice = app
        .state
        .store
        .find_user_by_email(ALICE.0)
        .await
        .unwrap()
        .unwrap();
    app.state
        .store
        .insert_passkey(&latchkey::store::PasskeyRecord {
            credential_id: "lost-key".into(),
            user_id: alice.id.clone(),
            passkey: "{}".into(),
            name: "Lost phone".into(),
            backup_eligible: true,
            backup_state: true,
            created_at: 100,
            last_used_at: None,
        })
        .await
        .unwrap();
    let (_, step) = password_then_second_step(&app, "/settings", ALICE).await;
    assert!(step.body.contains("Two-step verification"), "{}", step.body);

    let path = format!("/users/{}/second-factors", alice.id);
    let (status, reset) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["data"]["authenticatorApp"], true, "{reset}");
    assert_eq!(reset["data"]["passkeys"], 1, "{reset}");
    assert!(app.state.store.list_passkeys(&alice.id).await.unwrap().is_empty());
    assert!(
        audit_actions(&app)
            .await
            .contains(&"user.second_factors_reset".to_owned())
    );
    // The password alone signs in again.
    signed_in(&app, ALICE).await;
    // Again: nothing left to remove; an unknown user is not found.
    let (status, again) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["authenticatorApp"], false, "{again}");
    assert_eq!(again["data"]["passkeys"], 0, "{again}");
    let (status, _) = app
        .admin(Method::DELETE, "/users/nobody/second-factors", None)
        .await;
    assert_eq!(status, 404);

    // The CLI does the same.
    let mut owner = signed_in(&app, ALICE).await;
    enrol(&mut owner, ALICE.0).await;
    let cli = app.cli(&["users", "reset-second-factors", &alice.id], None);
    assert!(cli.status.success(), "{cli:?}");
    assert!(
        String::from_utf8_lossy(&cli.stdout).contains("authenticator app removed, 0 passkey(s) removed"),
        "{cli:?}"
    );
    signed_in(&app, ALICE).await;
}
