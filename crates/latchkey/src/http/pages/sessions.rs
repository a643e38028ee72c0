//! `{settings}/sessions`: the signed-in user's live browser sessions (the
//! browser and system each began in, when, last used), this browser's
//! marked, with "Sign out" for each other one and for all others at once.
//! Every session is named by its public id; one that is not the user's
//! (or is this browser's own) is "not found" and nothing changes.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use url::form_urlencoded;

use super::extract::{CsrfForm, SignedIn};
use super::see_other;
use super::settings::{Section, chrome};
use super::{Brand, SessionView, SessionsPage, date_time, not_found_page, render, storage_failure_page};
use crate::accounts::sessions;
use crate::grants::consent;
use crate::http::{AppState, pair, query_pairs};
use crate::unix_now;

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let store = state.store.as_ref();
    let (user_id, current) = (&signed_in.user.id, &signed_in.session.id_digest);
    let listed = match sessions::list(store, user_id, current, unix_now()).await {
        Ok(listed) => listed,
        Err(error) => return storage_failure_page(&state.config, "listing sessions", &error),
    };
    let memberships = match consent::memberships(store, user_id).await {
        Ok(memberships) => memberships,
        Err(error) => return storage_failure_page(&state.config, "reading memberships", &error),
    };
    let config = &state.config;
    let (chrome, set_csrf) = chrome(&state, &headers, &signed_in, &memberships, Section::Sessions);
    let sessions = listed
        .into_iter()
        .map(|session| SessionView {
            id: session.public_id,
            device: session.device,
            created: date_time(session.created_at),
            last_seen: date_time(session.last_seen_at),
            current: session.current,
        })
        .collect();
    let page_path = Section::Sessions.path(config);
    let page = SessionsPage {
        brand: Brand::new(config),
        chrome,
        end_action: format!("{page_path}/end"),
        end_others_action: format!("{page_path}/end-others"),
        sessions,
        notice: notice(&query_pairs(query)),
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

/// What the page confirms after a sign-out (from the redirect's query).
fn notice(pairs: &[(String, String)]) -> Option<String> {
    match pair(pairs, "ended")?.parse::<u64>().ok()? {
        0 => Some("There were no other sessions to sign out of.".to_owned()),
        1 => Some("Signed out of 1 session.".to_owned()),
        n => Some(format!("Signed out of {n} sessions.")),
    }
}

/// `GET` of a form's address (a sign-in that came back to it after the
/// session expired): the page itself.
pub async fn back_to_page(State(state): State<AppState>) -> Response {
    see_other(&Section::Sessions.path(&state.config), None)
}

/// `POST {settings}/sessions/end`: signs out of the session `session`.
pub async fn end(State(state): State<AppState>, signed_in: SignedIn, form: CsrfForm) -> Response {
    let ended = sessions::end_other(
        state.store.as_ref(),
        &signed_in.user.id,
        &signed_in.session.id_digest,
        form.text("session"),
        unix_now(),
    )
    .await;
    match ended {
        Ok(true) => ended_page(&state, 1),
        Ok(false) => not_found_page(&state.config),
        Err(error) => storage_failure_page(&state.config, "ending a session", &error),
    }
}

/// `POST {settings}/sessions/end-others`: signs out of every session but
/// this browser's.
pub async fn end_others(State(state): State<AppState>, signed_in: SignedIn, _form: CsrfForm) -> Response {
    let ended = sessions::end_all_others(
        state.store.as_ref(),
        &signed_in.user.id,
        &signed_in.session.id_digest,
        unix_now(),
    )
    .await;
    match ended {
        Ok(count) => ended_page(&state, count),
        Err(error) => storage_failure_page(&state.config, "ending other sessions", &error),
    }
}

fn ended_page(state: &AppState, count: u64) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("ended", &count.to_string())
        .finish();
    see_other(
        &format!("{}?{query}", Section::Sessions.path(&state.config)),
        None,
    )
}
