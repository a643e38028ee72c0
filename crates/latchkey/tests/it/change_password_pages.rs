//! Settings → Password: the current password is checked (a wrong one is
//! refused and counted like a failed sign-in), the new one replaces it,
//! "Sign out of my other sessions" ends the others when checked and keeps
//! them when not, the change is audited, reset links mailed before stop
//! working, and with delegated sign-in the page does not exist.

use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::user_agent::{ALICE, Page, UserAgent, hidden_inputs};

backend_tests!(
    a_wrong_current_password_is_refused_and_nothing_changes,
    changing_the_password_ends_the_other_sessions_when_checked,
    unchecking_keeps_the_other_sessions,
    the_change_form_refuses_a_missing_csrf_token,
    a_change_spends_the_reset_links_already_mailed,
);

const PAGE: &str = "/settings/password";
const NEW: &str = "a brand new passphrase";

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

/// Submits the change form; `end_others` ticks the box (as the page
/// opens) or leaves it unticked.
async fn change(agent: &mut UserAgent, current: &str, new: &str, end_others: bool) -> Page {
    let page = agent.get(PAGE).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Change password</h1>"));
    assert!(
        page.body
            .contains("name=\"end_other_sessions\" value=\"on\" checked")
    );
    assert!(
        page.body
            .contains("href=\"/settings/password\" aria-current=\"page\"")
    );
    let mut fields = hidden_inputs(&page.body);
    fields.push(("current_password".into(), current.into()));
    fields.push(("new_password".into(), new.into()));
    if end_others {
        fields.push(("end_other_sessions".into(), "on".into()));
    }
    agent.post_form(PAGE, &fields).await
}

async fn a_wrong_current_password_is_refused_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = signed_in(&app, ALICE.0, ALICE.1).await;
    let refused = change(&mut agent, "not my password", NEW, true).await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Your current password is incorrect."));
    let short = change(&mut agent, ALICE.1, "short", true).await;
    assert_eq!(short.status, 400);
    assert!(
        short.body.contains("Password must be at least 8 characters."),
        "{}",
        short.body
    );
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 303);
    // Wrong current passwords count like failed sign-ins (the sign-in
    // just now cleared the count).
    for _ in 0..latchkey::accounts::throttle::MAX_FAILURES {
        change(&mut agent, "not my password", NEW, true).await;
    }
    let throttled = change(&mut agent, ALICE.1, NEW, true).await;
    assert_eq!(throttled.status, 429);
}

async fn changing_the_password_ends_the_other_sessions_when_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut elsewhere = signed_in(&app, ALICE.0, ALICE.1).await;
    let mut agent = signed_in(&app, ALICE.0, ALICE.1).await;
    let done = change(&mut agent, ALICE.1, NEW, true).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = agent.follow(done).await;
    assert!(page.body.contains("Your password is changed."), "{}", page.body);
    assert_eq!(elsewhere.get("/settings/sessions").await.status, 303);
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 401);
    assert_eq!(sign_in_status(&app, ALICE.0, NEW).await, 303);
    let (_, events) = app.admin(Method::GET, "/audit-events", None).await;
    let changed = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.password_changed")
        .cloned()
        .expect("audited");
    assert_eq!(changed["details"]["other_sessions_ended"], 1, "{changed}");
    assert!(!changed.to_string().contains(NEW));
}

async fn unchecking_keeps_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut elsewhere = signed_in(&app, ALICE.0, ALICE.1).await;
    let mut agent = signed_in(&app, ALICE.0, ALICE.1).await;
    assert_eq!(change(&mut agent, ALICE.1, NEW, false).await.status, 303);
    assert_eq!(elsewhere.get("/settings/sessions").await.status, 200);
    assert_eq!(agent.get("/settings/sessions").await.status, 200);
    assert_eq!(sign_in_status(&app, ALICE.0, NEW).await, 303);
}

async fn the_change_form_refuses_a_missing_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut agent = signed_in(&app, ALICE.0, ALICE.1).await;
    agent.get(PAGE).await;
    let refused = agent
        .post_form(
            PAGE,
            &[
                ("current_password".into(), ALICE.1.into()),
                ("new_password".into(), NEW.into()),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(sign_in_status(&app, ALICE.0, ALICE.1).await, 303);
}

/// A reset link mailed before the password changed no longer works after:
/// whoever asked for it, the password it would replace is gone.
async fn a_change_spends_the_reset_links_already_mailed(backend: Backend) {
    let (app, sink) = crate::password_reset::app_with_mail(backend).await;
    let mut stranger = UserAgent::new(&app.base_url);
    let asked = crate::password_reset::ask_for_link(&mut stranger, ALICE.0).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let link = sink.wait_for_link("/login/reset?token=").await;

    let mut agent = signed_in(&app, ALICE.0, ALICE.1).await;
    let changed = change(&mut agent, ALICE.1, NEW, false).await;
    assert_eq!(changed.status, 303, "{}", changed.body);

    let page = stranger.get(&link).await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert_eq!(sign_in_status(&app, ALICE.0, NEW).await, 303);
}
