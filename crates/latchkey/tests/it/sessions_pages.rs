//! Settings → Sessions: the user's live browser sessions, each with the
//! browser it began in, this device marked, "Sign out" of another one and
//! of all others — and a session that is not the user's cannot be ended.

use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::user_agent::{ALICE, Page, UserAgent, hidden_inputs};

backend_tests!(
    the_list_shows_each_browser_of_the_user_and_marks_this_device,
    signing_out_another_session_signs_that_browser_out_at_once,
    signing_out_of_all_other_sessions_keeps_only_this_one,
    a_session_that_is_not_the_users_other_session_is_not_found_and_nothing_changes,
    sign_out_forms_refuse_a_missing_or_wrong_csrf_token,
    a_page_view_records_the_last_use_at_most_once_a_minute,
);

const PAGE: &str = "/settings/sessions";
const END: &str = "/settings/sessions/end";
const END_OTHERS: &str = "/settings/sessions/end-others";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// A browser identified as `user_agent`, signed in as `email`.
async fn signed_in(app: &TestApp, user_agent: &str, email: &str, password: &str) -> UserAgent {
    let mut agent = UserAgent::identified_as(&app.base_url, user_agent);
    let login = agent.get("/login").await;
    assert_eq!(agent.sign_in(&login, email, password).await.status, 303);
    agent
}

/// The table rows of the sessions page.
fn rows(page: &Page) -> Vec<&str> {
    page.body
        .split("<tr")
        .skip(2)
        .map(|row| row.split("</tr>").next().unwrap_or_default())
        .collect()
}

/// The hidden fields of the "Sign out" form in the row naming `device`.
fn sign_out_fields(page: &Page, device: &str) -> Vec<(String, String)> {
    let row = rows(page)
        .into_iter()
        .find(|row| row.contains(device))
        .unwrap_or_else(|| panic!("no row for {device} in:\n{}", page.body));
    let fields = hidden_inputs(row);
    assert!(fields.iter().any(|(name, _)| name == "session"), "{row}");
    fields
}

async fn sessions_ended_events(app: &TestApp) -> Vec<serde_json::Value> {
    let (status, events) = app.admin(Method::GET, "/audit-events", None).await;
    assert_eq!(status, 200, "{events}");
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "session.ended")
        .cloned()
        .collect()
}

async fn the_list_shows_each_browser_of_the_user_and_marks_this_device(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut firefox = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let chrome = signed_in(&app, CHROME, ALICE.0, ALICE.1).await;
    // A header is free text: one that looks like markup is shown as text.
    let odd = signed_in(&app, "<script>alert(1)</script>", ALICE.0, ALICE.1).await;
    // Another user's session is not listed.
    app.add_member("sam@example.com", "sam's long password", "Smith & Co", "member")
        .await;
    let _sam = signed_in(&app, SAFARI, "sam@example.com", "sam's long password").await;

    let page = firefox.get(PAGE).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Sessions</h1>"));
    assert!(
        page.body
            .contains("href=\"/settings/sessions\" aria-current=\"page\"")
    );
    let rows = rows(&page);
    assert_eq!(rows.len(), 3, "{}", page.body);
    // This device first, marked, without a form to end it.
    assert!(rows[0].contains("Firefox on Linux") && rows[0].contains("This device"));
    assert!(!rows[0].contains("<form"));
    let chrome_row = rows.iter().find(|row| row.contains("Chrome on Windows")).unwrap();
    assert!(!chrome_row.contains("This device"));
    assert!(chrome_row.contains(">Sign out</button>"));
    assert!(
        !page.body.contains("Safari"),
        "another user's session is not listed"
    );
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert") || page.body.contains("&#60;script&#62;alert"));
    assert!(page.body.contains(">Sign out of all other sessions</button>"));
    // The page names sessions by public ids: never a cookie or its digest.
    for agent in [&firefox, &chrome, &odd] {
        let cookie = agent.cookie("latchkey_session").unwrap();
        assert!(!page.body.contains(cookie));
        let digest = latchkey::secret::TokenDigest::of(cookie);
        let hex: String = digest.0.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!page.body.contains(&hex));
    }

    // Signed out, the page leads through sign-in and back.
    let mut stranger = UserAgent::new(&app.base_url);
    let away = stranger.get(PAGE).await;
    assert_eq!(away.status, 303);
    assert!(
        away.location
            .unwrap()
            .starts_with("/login?return_to=%2Fsettings%2Fsessions")
    );
    // A form address reached by a GET leads to the page.
    assert_eq!(firefox.get(END).await.location.as_deref(), Some(PAGE));
    assert_eq!(firefox.get(END_OTHERS).await.location.as_deref(), Some(PAGE));
}

async fn signing_out_another_session_signs_that_browser_out_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut firefox = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let mut chrome = signed_in(&app, CHROME, ALICE.0, ALICE.1).await;
    assert_eq!(chrome.get(PAGE).await.status, 200, "signed in");

    let page = firefox.get(PAGE).await;
    let ended = firefox
        .post_form(END, &sign_out_fields(&page, "Chrome on Windows"))
        .await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location.as_deref(), Some("/settings/sessions?ended=1"));
    let after = firefox.follow(ended).await;
    assert_eq!(after.status, 200, "this browser stays signed in");
    assert!(after.body.contains("Signed out of 1 session."), "{}", after.body);
    assert_eq!(rows(&after).len(), 1);
    assert!(
        after
            .body
            .contains("This is the only browser signed in to your account.")
    );

    // The other browser's very next request is signed out.
    let refused = chrome.get(PAGE).await;
    assert_eq!(refused.status, 303);
    assert!(refused.location.unwrap().starts_with("/login?"));

    let events = sessions_ended_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["reason"], "signed out from another session");
    assert!(events[0]["actor"].as_str().unwrap().starts_with("user:"));
}

async fn signing_out_of_all_other_sessions_keeps_only_this_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut firefox = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let mut chrome = signed_in(&app, CHROME, ALICE.0, ALICE.1).await;
    let mut safari = signed_in(&app, SAFARI, ALICE.0, ALICE.1).await;
    // Another user's session is not among "all others".
    app.add_member("sam@example.com", "sam's long password", "Smith & Co", "member")
        .await;
    let mut sam = signed_in(&app, CHROME, "sam@example.com", "sam's long password").await;

    let page = firefox.get(PAGE).await;
    assert_eq!(rows(&page).len(), 3);
    let form = crate::user_agent::form_inputs(&page.body, END_OTHERS);
    let ended = firefox.post_form(END_OTHERS, &form).await;
    assert_eq!(ended.location.as_deref(), Some("/settings/sessions?ended=2"));
    let after = firefox.follow(ended).await;
    assert!(after.body.contains("Signed out of 2 sessions."), "{}", after.body);
    assert_eq!(rows(&after).len(), 1);
    assert!(!after.body.contains(END_OTHERS), "nothing else to sign out of");

    for browser in [&mut chrome, &mut safari] {
        assert_eq!(browser.get(PAGE).await.status, 303, "signed out");
    }
    assert_eq!(sam.get(PAGE).await.status, 200, "another user's session stands");
    assert_eq!(firefox.get(PAGE).await.status, 200);

    // Again, with nothing left to end: said so, nothing audited.
    let form = crate::user_agent::form_inputs(&page.body, END_OTHERS);
    let again = firefox.post_form(END_OTHERS, &form).await;
    let again = firefox.follow(again).await;
    assert!(
        again
            .body
            .contains("There were no other sessions to sign out of.")
    );
    let events = sessions_ended_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["count"], 2);
}

async fn a_session_that_is_not_the_users_other_session_is_not_found_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut alice = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let mut alice_phone = signed_in(&app, SAFARI, ALICE.0, ALICE.1).await;
    app.add_member("sam@example.com", "sam's long password", "Smith & Co", "member")
        .await;
    let mut sam = signed_in(&app, CHROME, "sam@example.com", "sam's long password").await;

    // Alice's phone's public id, as Alice's page shows it.
    let alice_page = alice.get(PAGE).await;
    let phone_id = sign_out_fields(&alice_page, "Safari on iOS")
        .into_iter()
        .find(|(name, _)| name == "session")
        .unwrap()
        .1;
    // Sam's own form, with Alice's session id in it.
    let sam_page = sam.get(PAGE).await;
    let sam_csrf = hidden_inputs(&sam_page.body)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap();
    for id in [phone_id.as_str(), "", "not-a-session", &"x".repeat(5000)] {
        let refused = sam
            .post_form(END, &[sam_csrf.clone(), ("session".into(), id.into())])
            .await;
        assert_eq!(refused.status, 404, "{id:.20}");
        assert!(refused.body.contains("Page not found") || refused.body.contains("not found"));
    }
    // This browser's own session is not "another" one: the layout's
    // sign-out ends it, this form does not.
    let alice_csrf = hidden_inputs(&alice_page.body)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap();
    let alice_ids: Vec<String> = hidden_inputs(&alice_page.body)
        .into_iter()
        .filter(|(name, _)| name == "session")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(
        alice_ids,
        vec![phone_id.clone()],
        "only the other session has a form"
    );
    let sam_id_on_alice = {
        let page = alice_phone.get(PAGE).await;
        sign_out_fields(&page, "Firefox on Linux")
            .into_iter()
            .find(|(name, _)| name == "session")
            .unwrap()
            .1
    };
    let own = alice
        .post_form(END, &[alice_csrf, ("session".into(), sam_id_on_alice)])
        .await;
    assert_eq!(own.status, 404);

    for browser in [&mut alice, &mut alice_phone, &mut sam] {
        assert_eq!(browser.get(PAGE).await.status, 200, "nothing changed");
    }
    assert!(sessions_ended_events(&app).await.is_empty());
}

async fn sign_out_forms_refuse_a_missing_or_wrong_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let mut firefox = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let mut chrome = signed_in(&app, CHROME, ALICE.0, ALICE.1).await;
    let page = firefox.get(PAGE).await;
    let fields = sign_out_fields(&page, "Chrome on Windows");
    let session = fields.iter().find(|(name, _)| name == "session").unwrap().clone();
    // The token of the other browser's page: made for another session.
    let chrome_page = chrome.get(PAGE).await;
    let chrome_csrf = hidden_inputs(&chrome_page.body)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap();

    let attempts: Vec<Vec<(String, String)>> = vec![
        vec![session.clone()],
        vec![("csrf_token".into(), "forged".into()), session.clone()],
        vec![("csrf_token".into(), String::new()), session.clone()],
        vec![chrome_csrf, session.clone()],
    ];
    for attempt in &attempts {
        for action in [END, END_OTHERS] {
            let refused = firefox.post_form(action, attempt).await;
            assert_eq!(refused.status, 400, "{action} {attempt:?}");
            assert!(refused.body.contains("This form has expired"), "{}", refused.body);
        }
    }
    assert_eq!(chrome.get(PAGE).await.status, 200, "nothing ended");
    assert_eq!(rows(&firefox.get(PAGE).await).len(), 2);
    assert!(sessions_ended_events(&app).await.is_empty());
}

/// A page view writes the session's last use only when the recorded one is
/// a minute old or more.
async fn a_page_view_records_the_last_use_at_most_once_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed_demo().await;
    let store = app.state.store.as_ref();
    let mut agent = signed_in(&app, FIREFOX, ALICE.0, ALICE.1).await;
    let digest = latchkey::secret::TokenDigest::of(agent.cookie("latchkey_session").unwrap());
    let fresh = store.find_session(&digest).await.unwrap().unwrap();
    assert_eq!(
        fresh.last_seen_at, None,
        "a new session's last use is its creation"
    );
    assert_eq!(fresh.user_agent.as_deref(), Some(FIREFOX));

    // Within the first minute, page views write nothing.
    agent.get(PAGE).await;
    assert_eq!(
        store.find_session(&digest).await.unwrap().unwrap().last_seen_at,
        None
    );

    // A session begun two hours ago and used an hour ago: the next view
    // records it, the views right after do not write again.
    let now = latchkey::unix_now();
    let mut old = fresh.clone();
    old.id_digest = latchkey::secret::TokenDigest::of("ses_planted_for_this_test");
    old.created_at = now - 7200;
    old.auth_time = now - 7200;
    old.last_seen_at = Some(now - 3600);
    old.user_agent = Some(CHROME.into());
    store.insert_session(&old).await.unwrap();
    let mut planted = UserAgent::identified_as(&app.base_url, CHROME);
    planted.set_cookie("latchkey_session", "ses_planted_for_this_test");
    let page = planted.get(PAGE).await;
    assert_eq!(page.status, 200);
    let seen = store
        .find_session(&old.id_digest)
        .await
        .unwrap()
        .unwrap()
        .last_seen_at
        .unwrap();
    assert!(seen >= now, "recorded: {seen} vs {now}");
    // A use recorded two minutes ahead (as an instance with a fast clock
    // would): the next view is within a minute of it and writes nothing.
    let recorded = seen + 120;
    assert!(store.touch_session(&old.id_digest, recorded).await.unwrap());
    planted.get(PAGE).await;
    assert_eq!(
        store
            .find_session(&old.id_digest)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        Some(recorded)
    );
    // The page shows the older session's times.
    let listed = agent.get(PAGE).await;
    assert!(listed.body.contains("Chrome on Windows"));
    let shown = latchkey::http::pages::date_time(now - 7200);
    assert!(listed.body.contains(&shown), "{shown} in {}", listed.body);
}
