//! "Forgot password?" with mail captured by a local SMTP sink: the link
//! resets the password once and ends every session, the answer is the same
//! for an unknown address (and no mail goes out), expired, unknown and
//! used links are refused, forms need their CSRF token, requests are
//! throttled, and without `[smtp]` nothing of it exists.

use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::smtp_sink::SmtpSink;
use crate::user_agent::{ALICE, Page, UserAgent, hidden_inputs};

use latchkey::secret::Secret;
use latchkey::store::{TokenPurpose, UserTokenRecord};

backend_tests!(
    a_mailed_link_resets_the_password_once_and_ends_every_session,
    an_unknown_address_gets_the_same_answer_and_no_mail,
    expired_unknown_and_foreign_links_are_refused_with_a_way_to_a_new_one,
    without_smtp_there_is_no_forgot_password_link_or_page,
    the_forms_refuse_a_missing_csrf_token,
    reset_requests_are_throttled_per_address,
    a_too_short_new_password_is_refused_and_the_link_stays_usable,
);

pub const FORGOT: &str = "/login/forgot";

/// An app whose mail goes to a fresh sink, with the demo data (alice).
pub async fn app_with_mail(backend: Backend) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let configure = sink.clone();
    let options = Options {
        tweak: Some(Box::new(move |raw| configure.configure(raw))),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.seed_demo().await;
    (app, sink)
}

/// Asks for a reset link for `email` the way a person would.
pub async fn ask_for_link(agent: &mut UserAgent, email: &str) -> Page {
    let form = agent.get(FORGOT).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<h1>Reset your password</h1>"));
    let mut fields = hidden_inputs(&form.body);
    fields.push(("email".into(), email.into()));
    agent.post_form(FORGOT, &fields).await
}

async fn signed_in(app: &TestApp, email: &str, password: &str) -> UserAgent {
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    let done = agent.sign_in(&login, email, password).await;
    assert_eq!(done.status, 303, "{}", done.body);
    agent
}

async fn sign_in_status(app: &TestApp, email: &str, password: &str) -> u16 {
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    agent.sign_in(&login, email, password).await.status
}

async fn audit_actions(app: &TestApp) -> Vec<serde_json::Value> {
    let (status, events) = app.admin(Method::GET, "/audit-events", None).await;
    assert_eq!(status, 200, "{events}");
    events["data"].as_array().unwrap().clone()
}

async fn a_mailed_link_resets_the_password_once_and_ends_every_session(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    // Another browser where alice is signed in.
    let mut elsewhere = signed_in(&app, ALICE.0, ALICE.1).await;
    assert_eq!(elsewhere.get("/settings/sessions").await.status, 200);

    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    assert!(login.body.contains(">Forgot password?</a>"), "{}", login.body);
    assert!(login.body.contains("href=\"/login/forgot\""));
    let sent = ask_for_link(&mut agent, ALICE.0).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body
            .contains("If an account exists for that address, we sent a link")
    );

    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.to[0].contains(ALICE.0), "{mail:?}");
    assert!(mail.from.contains("no-reply@latchkey.test"));
    assert!(mail.header("Subject").unwrap().contains("Reset your"), "{mail:?}");
    let link = mail
        .link(&app.url("/login/reset?token=rst_"))
        .unwrap_or_else(|| panic!("no reset link in {}", mail.text()));

    let page = agent.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Choose a new password</h1>"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let mut fields = hidden_inputs(&page.body);
    fields.push(("new_password".into(), "a brand new passphrase".into()));
    let done = agent.post_form("/login/reset", &fields).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password is changed"));

    // Every session ended; the old password no longer works, the new one does.
    let away = elsewhere.get("/settings/sessions").await;
    assert_eq!(away.status, 303, "the other browser is signed out");
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 401);
    assert_eq!(sign_in_status(&app, ALICE.0, "a brand new passphrase").await, 303);

    // The link works once.
    let again = agent.get(&link).await;
    assert_eq!(again.status, 410);
    assert!(
        again
            .body
            .contains("This link has been used or has expired — ask for a new one.")
    );
    assert!(again.body.contains("href=\"/login/forgot\""));
    let replay = agent.post_form("/login/reset", &fields).await;
    assert_eq!(replay.status, 410);
    assert_eq!(sign_in_status(&app, ALICE.0, "a brand new passphrase").await, 303);

    // Audited, never with the token.
    let events = audit_actions(&app).await;
    let token = link.split("token=").nth(1).unwrap();
    for action in ["user.password_reset_requested", "user.password_reset"] {
        assert!(events.iter().any(|e| e["action"] == action), "{action}");
    }
    assert!(!serde_json::to_string(&events).unwrap().contains(token));
}

async fn an_unknown_address_gets_the_same_answer_and_no_mail(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    let unknown = ask_for_link(&mut agent, "nobody@example.com").await;
    let known = ask_for_link(&mut agent, ALICE.0).await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert_eq!(unknown.body, known.body, "the answer does not tell");
    let mails = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "{mails:?}");
    assert!(mails[0].to[0].contains(ALICE.0));
}

async fn expired_unknown_and_foreign_links_are_refused_with_a_way_to_a_new_one(backend: Backend) {
    let (app, _sink) = app_with_mail(backend).await;
    let store = app.state.store.as_ref();
    let alice = store.find_user_by_email(ALICE.0).await.unwrap().unwrap();
    let now = latchkey::unix_now();
    let insert = |token: &str, purpose, expires_at| {
        let record = UserTokenRecord {
            token_digest: Secret::new(token).digest(),
            user_id: alice.id.clone(),
            purpose,
            email: alice.email.clone(),
            created_at: now - 3600,
            expires_at,
            used_at: None,
        };
        async move { store.insert_user_token(&record, now - 3600).await.unwrap() }
    };
    insert("rst_expired", TokenPurpose::PasswordReset, now - 1).await;
    insert("rst_verify_purpose", TokenPurpose::VerifyEmail, now + 600).await;
    insert("vfy_reset_purpose", TokenPurpose::PasswordReset, now + 600).await;
    let mut agent = UserAgent::new(&app.base_url);
    for token in ["rst_expired", "rst_verify_purpose", "rst_unknown", ""] {
        let page = agent.get(&format!("/login/reset?token={token}")).await;
        assert_eq!(page.status, 410, "{token}: {}", page.body);
        assert!(page.body.contains("This link has been used or has expired"));
        assert!(page.body.contains("href=\"/login/forgot\""));
    }
    let page = agent.get("/verify-email?token=vfy_reset_purpose").await;
    assert_eq!(page.status, 410);
    // A form posted with an expired token changes nothing.
    let form = agent.get(FORGOT).await;
    let mut fields = hidden_inputs(&form.body);
    fields.push(("token".into(), "rst_expired".into()));
    fields.push(("new_password".into(), "a brand new passphrase".into()));
    assert_eq!(agent.post_form("/login/reset", &fields).await.status, 410);
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 303);
}

async fn without_smtp_there_is_no_forgot_password_link_or_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    assert_eq!(login.status, 200);
    assert!(!login.body.contains("Forgot password?"));
    assert_eq!(agent.get(FORGOT).await.status, 404);
    assert_eq!(agent.get("/login/reset?token=rst_x").await.status, 404);
}

async fn the_forms_refuse_a_missing_csrf_token(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    agent.get(FORGOT).await;
    let refused = agent.post_form(FORGOT, &[("email".into(), ALICE.0.into())]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("This form has expired"));
    // A real request, then its reset form without the token of the form.
    ask_for_link(&mut agent, ALICE.0).await;
    let mail = sink.wait_for(1).await.remove(0);
    let link = mail.link(&app.url("/login/reset?token=")).unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let refused = agent
        .post_form(
            "/login/reset",
            &[
                ("token".into(), token),
                ("new_password".into(), "a brand new passphrase".into()),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(agent.get(&link).await.status, 200, "the link stays usable");
    assert_eq!(sink.messages().len(), 1);
}

async fn reset_requests_are_throttled_per_address(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    let limit = latchkey::accounts::throttle::RESET_REQUESTS.per_email_and_ip;
    for _ in 0..limit {
        assert_eq!(ask_for_link(&mut agent, ALICE.0).await.status, 200);
    }
    let refused = ask_for_link(&mut agent, ALICE.0).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("Too many reset requests"));
    // An address nobody has is counted the same, and so refused the same.
    for _ in 0..limit {
        ask_for_link(&mut agent, "nobody@example.com").await;
    }
    assert_eq!(ask_for_link(&mut agent, "nobody@example.com").await.status, 429);
    sink.wait_for(limit as usize).await;
}

async fn a_too_short_new_password_is_refused_and_the_link_stays_usable(backend: Backend) {
    let (app, sink) = app_with_mail(backend).await;
    let mut agent = UserAgent::new(&app.base_url);
    ask_for_link(&mut agent, ALICE.0).await;
    let link = sink.wait_for(1).await[0].link(&app.url("/login/reset")).unwrap();
    let page = agent.get(&link).await;
    let mut fields = hidden_inputs(&page.body);
    fields.push(("new_password".into(), "short".into()));
    let refused = agent.post_form("/login/reset", &fields).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("Password must be at least 8 characters."),
        "{}",
        refused.body
    );
    assert_eq!(agent.get(&link).await.status, 200);
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 303);
}
