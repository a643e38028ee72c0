//! Passkeys over HTTP: the JSON endpoints of enrolment and password-free
//! sign-in refuse what they must (no session, no or a wrong CSRF token,
//! malformed JSON, an unknown or already used ceremony, a credential that
//! is not registered) with a 4xx and a description, never a 500; the
//! options they give ask for a discoverable, user-verified key under a
//! random user handle; a passkey is removed only by its own user (another
//! user's is "not found"), audited; failed passkey sign-ins are throttled
//! per address; an issuer without a domain name offers no passkeys; and a
//! user with a passkey is asked for it after the password, whose endpoints
//! need that pending sign-in.
//! The ceremonies themselves are driven in Chromium (`browser.rs`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::user_agent::{ALICE, Page, UserAgent, hidden_inputs};

backend_tests!(
    enrolment_refuses_without_a_session_a_csrf_token_or_a_live_ceremony,
    sign_in_refuses_malformed_unknown_and_reused_answers,
    a_passkey_is_removed_only_by_its_own_user,
    failed_passkey_sign_ins_are_throttled_per_address,
    a_passkey_is_the_second_step_after_the_password,
);

const PAGE: &str = "/settings/passkeys";
const REGISTER_BEGIN: &str = "/settings/passkeys/register/begin";
const REGISTER_FINISH: &str = "/settings/passkeys/register/finish";
const SIGN_IN_BEGIN: &str = "/login/passkey/begin";
const SIGN_IN_FINISH: &str = "/login/passkey/finish";
const CEREMONY_COOKIE: &str = "latchkey_passkey";
const STEP: &str = "/login/second-factor";
const STEP_BEGIN: &str = "/login/second-factor/passkey/begin";
const STEP_FINISH: &str = "/login/second-factor/passkey/finish";
const SETUP_BEGIN: &str = "/login/second-factor/setup/passkey/begin";
const SETUP_FINISH: &str = "/login/second-factor/setup/passkey/finish";

/// A server whose issuer is `localhost` (WebAuthn needs a domain name),
/// with the demo data.
async fn spawn(backend: Backend) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(|raw| {
            raw.issuer = raw.issuer.take().map(|i| i.replace("127.0.0.1", "localhost"));
        })),
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    app
}

fn agent(app: &TestApp) -> UserAgent {
    UserAgent::new(&app.state.config.issuer)
}

fn csrf(page: &Page) -> String {
    hidden_inputs(&page.body)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value)
        .unwrap_or_else(|| panic!("no CSRF token in {}", page.body))
}

fn json_of(page: &Page) -> Value {
    serde_json::from_str(&page.body).unwrap_or_else(|_| panic!("not JSON: {}", page.body))
}

/// Asserts a JSON refusal with `status` and `error`, and a description.
fn assert_refused(page: &Page, status: u16, error: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    let body = json_of(page);
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"].as_str().is_some_and(|d| d.len() > 20),
        "{body}"
    );
}

/// A browser signed in as alice, on the Passkeys page; its CSRF token.
async fn alice_on_the_page(app: &TestApp) -> (UserAgent, String) {
    let mut agent = agent(app);
    let login = agent.get(&format!("/login?return_to={PAGE}")).await;
    assert_eq!(agent.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    let page = agent.get(PAGE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page);
    (agent, token)
}

/// A registration answer of the right shape whose content no authenticator
/// made.
fn forged_registration() -> String {
    json!({
        "credential": {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"},
            "extensions": {},
        },
        "name": "Forged",
    })
    .to_string()
}

/// An authentication answer of the right shape whose content no
/// authenticator made, naming credential `id`.
fn forged_assertion(id: &str) -> String {
    json!({
        "credential": {
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": "AAAA",
                "clientDataJSON": "AAAA",
                "signature": "AAAA",
                "userHandle": null,
            },
            "extensions": {},
        },
        "return_to": "/settings",
    })
    .to_string()
}

async fn enrolment_refuses_without_a_session_a_csrf_token_or_a_live_ceremony(backend: Backend) {
    let app = spawn(backend).await;

    // No session: 401, for both halves.
    let mut stranger = agent(&app);
    let login = stranger.get("/login").await;
    let token = csrf(&login);
    let headers = [("x-csrf-token", token.as_str())];
    assert_refused(
        &stranger.post_json(REGISTER_BEGIN, &headers, "{}").await,
        401,
        "login_required",
    );
    let finish = stranger
        .post_json(REGISTER_FINISH, &headers, &forged_registration())
        .await;
    assert_refused(&finish, 401, "login_required");

    // Signed in, without or with a wrong CSRF token: 403.
    let (mut alice, token) = alice_on_the_page(&app).await;
    assert_refused(
        &alice.post_json(REGISTER_BEGIN, &[], "{}").await,
        403,
        "invalid_request",
    );
    let wrong = [("x-csrf-token", "not-the-token")];
    assert_refused(
        &alice.post_json(REGISTER_BEGIN, &wrong, "{}").await,
        403,
        "invalid_request",
    );

    // The options: a discoverable, user-verified key for a random handle.
    let headers = [("x-csrf-token", token.as_str())];
    let begun = alice.post_json(REGISTER_BEGIN, &headers, "{}").await;
    assert_eq!(begun.status, 200, "{}", begun.body);
    assert_eq!(begun.headers["cache-control"], "no-store");
    assert!(alice.has_cookie(CEREMONY_COOKIE));
    let options = json_of(&begun)["publicKey"].clone();
    assert_eq!(options["rp"]["id"], "localhost", "{options}");
    assert_eq!(options["rp"]["name"], app.state.config.branding.product_name);
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["userVerification"], "required", "{options}");
    let handle = options["user"]["id"].as_str().unwrap();
    assert!(
        !begun.body.contains("alice%40") && !handle.contains("alice"),
        "{handle}"
    );
    assert!(options["challenge"].as_str().unwrap().len() >= 43, "{options}");

    // Malformed JSON: 400 saying what the body must be.
    let malformed = alice
        .post_json(REGISTER_FINISH, &headers, "{\"credential\": 42")
        .await;
    assert_refused(&malformed, 400, "invalid_request");
    let wrong_shape = alice
        .post_json(REGISTER_FINISH, &headers, "{\"name\": \"x\"}")
        .await;
    assert_refused(&wrong_shape, 400, "invalid_request");
    assert!(
        json_of(&wrong_shape)["error_description"]
            .as_str()
            .unwrap()
            .contains("credential")
    );

    // A forged answer takes the ceremony and is refused; the same ceremony
    // again is unknown.
    let forged = alice
        .post_json(REGISTER_FINISH, &headers, &forged_registration())
        .await;
    assert_refused(&forged, 401, "access_denied");
    let again = alice
        .post_json(REGISTER_FINISH, &headers, &forged_registration())
        .await;
    assert_refused(&again, 400, "invalid_request");

    // An unknown ceremony id, and none at all.
    alice.set_cookie(CEREMONY_COOKIE, "pkc_unknown");
    let unknown = alice
        .post_json(REGISTER_FINISH, &headers, &forged_registration())
        .await;
    assert_refused(&unknown, 400, "invalid_request");
    let mut no_cookie = alice_on_the_page(&app).await;
    let headers = [("x-csrf-token", no_cookie.1.as_str())];
    let missing = no_cookie
        .0
        .post_json(REGISTER_FINISH, &headers, &forged_registration())
        .await;
    assert_refused(&missing, 400, "invalid_request");
    let alice_id = alice_id(&app).await;
    assert!(app.state.store.list_passkeys(&alice_id).await.unwrap().is_empty());
}

async fn sign_in_refuses_malformed_unknown_and_reused_answers(backend: Backend) {
    let app = spawn(backend).await;
    let mut browser = agent(&app);
    let login = browser.get("/login").await;
    assert!(login.body.contains("Sign in with a passkey"), "{}", login.body);
    assert!(login.body.contains("/static/passkey.js"));
    let token = csrf(&login);
    assert_refused(
        &browser.post_json(SIGN_IN_BEGIN, &[], "{}").await,
        403,
        "invalid_request",
    );

    let headers = [("x-csrf-token", token.as_str())];
    let begun = browser.post_json(SIGN_IN_BEGIN, &headers, "{}").await;
    assert_eq!(begun.status, 200, "{}", begun.body);
    let options = json_of(&begun)["publicKey"].clone();
    assert_eq!(options["userVerification"], "required", "{options}");
    assert!(
        options["allowCredentials"].as_array().is_none_or(Vec::is_empty),
        "the browser chooses: {options}"
    );

    let malformed = browser.post_json(SIGN_IN_FINISH, &headers, "not json").await;
    assert_refused(&malformed, 400, "invalid_request");
    // A credential nobody registered: refused, and the ceremony is spent.
    let unknown = browser
        .post_json(SIGN_IN_FINISH, &headers, &forged_assertion("AAAA"))
        .await;
    assert_refused(&unknown, 401, "access_denied");
    assert!(
        !unknown
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("latchkey_session="))
    );
    let reused = browser
        .post_json(SIGN_IN_FINISH, &headers, &forged_assertion("AAAA"))
        .await;
    assert_refused(&reused, 400, "invalid_request");

    browser.set_cookie(CEREMONY_COOKIE, "pkc_never_issued");
    let never = browser
        .post_json(SIGN_IN_FINISH, &headers, &forged_assertion("AAAA"))
        .await;
    assert_refused(&never, 400, "invalid_request");

    // Without a domain name there are no passkeys: no endpoints, no button.
    let by_address = TestApp::spawn(Backend::Sqlite).await;
    let mut elsewhere = UserAgent::new(&by_address.base_url);
    let login = elsewhere.get("/login").await;
    assert!(!login.body.contains("passkey"), "{}", login.body);
    let token = csrf(&login);
    let headers = [("x-csrf-token", token.as_str())];
    assert_eq!(
        elsewhere.post_json(SIGN_IN_BEGIN, &headers, "{}").await.status,
        404
    );
}

async fn a_passkey_is_removed_only_by_its_own_user(backend: Backend) {
    let app = spawn(backend).await;
    let alice_id = alice_id(&app).await;
    let (bob_id, _) = app
        .add_member("bob@example.com", "bob-password-0123", "Bob Firm", "member")
        .await;
    // Signed in before the passkeys exist (with one, the password alone
    // would not do).
    let (mut alice, token) = alice_on_the_page(&app).await;
    for (id, owner) in [("alice-key", alice_id.as_str()), ("bob-key", bob_id.as_str())] {
        app.state
            .store
            .insert_passkey(&latchkey::store::PasskeyRecord {
                credential_id: id.into(),
                user_id: owner.into(),
                passkey: "{}".into(),
                name: format!("Key of {id}"),
                backup_eligible: true,
                backup_state: true,
                created_at: 100,
                last_used_at: None,
            })
            .await
            .unwrap();
    }
    let page = alice.get(PAGE).await;
    assert!(
        page.body.contains("Key of alice-key") && page.body.contains("Synced"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Key of bob-key"));

    let remove = |passkey: &str| {
        vec![
            ("csrf_token".to_owned(), token.clone()),
            ("passkey".to_owned(), passkey.to_owned()),
        ]
    };
    let refused = alice
        .post_form("/settings/passkeys/remove", &remove("bob-key"))
        .await;
    assert_eq!(refused.status, 404);
    assert!(app.state.store.find_passkey("bob-key").await.unwrap().is_some());
    let no_csrf = alice
        .post_form(
            "/settings/passkeys/remove",
            &[("passkey".into(), "alice-key".into())],
        )
        .await;
    assert_eq!(no_csrf.status, 400);
    assert!(app.state.store.find_passkey("alice-key").await.unwrap().is_some());

    let removed = alice
        .post_form("/settings/passkeys/remove", &remove("alice-key"))
        .await;
    assert_eq!(removed.status, 303);
    let page = alice.follow(removed).await;
    assert!(page.body.contains("Passkey removed."), "{}", page.body);
    assert!(page.body.contains("You have no passkeys yet."));
    assert!(app.state.store.find_passkey("alice-key").await.unwrap().is_none());
    let (status, events) = app.admin(Method::GET, "/audit-events", None).await;
    assert_eq!(status, 200);
    let removal = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.passkey_removed")
        .unwrap_or_else(|| panic!("no removal audited: {events}"));
    assert_eq!(removal["details"]["credential_id"], "alice-key", "{removal}");
}

async fn failed_passkey_sign_ins_are_throttled_per_address(backend: Backend) {
    let app = spawn(backend).await;
    let mut browser = agent(&app);
    let login = browser.get("/login").await;
    let token = csrf(&login);
    let headers = [("x-csrf-token", token.as_str())];
    for _ in 0..latchkey::accounts::throttle::MAX_FAILURES_PER_IP {
        assert_eq!(browser.post_json(SIGN_IN_BEGIN, &headers, "{}").await.status, 200);
        let failed = browser
            .post_json(SIGN_IN_FINISH, &headers, &forged_assertion("AAAA"))
            .await;
        assert_eq!(failed.status, 401, "{}", failed.body);
    }
    let refused = browser.post_json(SIGN_IN_BEGIN, &headers, "{}").await;
    assert_refused(&refused, 429, "rate_limit_exceeded");
    assert!(refused.headers.contains_key("retry-after"));
}

/// A passkey of alice's makes it the second step after her password: the
/// step offers it first (its ceremony through the step's own endpoints,
/// which need the pending sign-in and the CSRF token), the code form does
/// not take it, and a forged answer gets no session. The ceremony itself
/// is driven in Chromium.
async fn a_passkey_is_the_second_step_after_the_password(backend: Backend) {
    let app = spawn(backend).await;
    let alice_id = alice_id(&app).await;
    app.state
        .store
        .insert_passkey(&latchkey::store::PasskeyRecord {
            credential_id: "alice-key".into(),
            user_id: alice_id.clone(),
            passkey: "{}".into(),
            name: "Work laptop".into(),
            backup_eligible: false,
            backup_state: false,
            created_at: 100,
            last_used_at: None,
        })
        .await
        .unwrap();

    // Without a pending sign-in the step's endpoints refuse.
    let mut stranger = agent(&app);
    let login = stranger.get("/login").await;
    let token = csrf(&login);
    let headers = [("x-csrf-token", token.as_str())];
    assert_refused(
        &stranger.post_json(STEP_BEGIN, &headers, "{}").await,
        401,
        "login_required",
    );
    assert_refused(
        &stranger
            .post_json(STEP_FINISH, &headers, &forged_assertion("alice-key"))
            .await,
        401,
        "login_required",
    );

    let mut browser = agent(&app);
    let login = browser.get("/login?return_to=/settings").await;
    let signed = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(
        signed.location.as_deref(),
        Some(STEP),
        "the password alone is not enough"
    );
    assert!(browser.cookie("latchkey_session").is_none());
    let step = browser.get(STEP).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.body.contains("Use your passkey"), "{}", step.body);
    assert!(step.body.contains(STEP_BEGIN) && step.body.contains(STEP_FINISH));
    assert!(step.body.contains("/static/passkey.js"));
    let token = step
        .body
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token for the script: {}", step.body))
        .to_owned();

    // The code form does not take a passkey.
    let fields = vec![
        ("csrf_token".to_owned(), token.clone()),
        ("method".to_owned(), "passkey".to_owned()),
        ("code".to_owned(), "123456".to_owned()),
    ];
    let typed = browser.post_form(STEP, &fields).await;
    assert_eq!(typed.status, 400, "{}", typed.body);
    assert!(typed.body.contains("Use the button"), "{}", typed.body);

    assert_refused(
        &browser.post_json(STEP_BEGIN, &[], "{}").await,
        403,
        "invalid_request",
    );
    let headers = [("x-csrf-token", token.as_str())];
    // No ceremony begun: refused, no session.
    let unbegun = browser
        .post_json(STEP_FINISH, &headers, &forged_assertion("alice-key"))
        .await;
    assert_refused(&unbegun, 400, "invalid_request");
    assert_refused(
        &browser.post_json(STEP_FINISH, &headers, "not json").await,
        400,
        "invalid_request",
    );
    // Adding a passkey while signing in is only for a sign-in whose set-up
    // is due (a member of an organization that requires a second factor
    // and has none): not for this one, nor for a stranger.
    assert_refused(
        &browser.post_json(SETUP_BEGIN, &headers, "{}").await,
        401,
        "login_required",
    );
    assert_refused(
        &browser
            .post_json(SETUP_FINISH, &headers, &forged_registration())
            .await,
        401,
        "login_required",
    );
    let stranger_token = csrf(&stranger.get("/login").await);
    let stranger_headers = [("x-csrf-token", stranger_token.as_str())];
    assert_refused(
        &stranger.post_json(SETUP_BEGIN, &stranger_headers, "{}").await,
        401,
        "login_required",
    );
    // A stored key that does not read as one is refused, not a 500.
    assert_refused(
        &browser.post_json(STEP_BEGIN, &headers, "{}").await,
        401,
        "access_denied",
    );
    assert!(browser.cookie("latchkey_session").is_none());
}

async fn alice_id(app: &TestApp) -> String {
    app.state
        .store
        .find_user_by_email(ALICE.0)
        .await
        .unwrap()
        .unwrap()
        .id
}
