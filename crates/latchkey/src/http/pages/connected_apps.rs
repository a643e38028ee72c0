//! `{settings}/connected-apps` (SPEC 9): the apps the signed-in user
//! authorized, per organization, with what each may do (the scopes'
//! descriptions), when it was first authorized and last used, and a
//! Revoke behind a confirmation.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use url::form_urlencoded;

use super::extract::{CsrfForm, SignedIn};
use super::see_other;
use super::settings::{Section, chrome};
use super::{Brand, ConnectedAppView, ConnectedAppsPage, date, render, scope_views, storage_failure_page};
use crate::audit::Actor;
use crate::grants::{connected, consent};
use crate::http::{AppState, pair, query_pairs};
use crate::unix_now;

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let store = state.store.as_ref();
    let listed = match connected::list(store, &signed_in.user.id).await {
        Ok(apps) => apps,
        Err(error) => return storage_failure_page(&state.config, "listing connected apps", &error),
    };
    let memberships = match consent::memberships(store, &signed_in.user.id).await {
        Ok(memberships) => memberships,
        Err(error) => return storage_failure_page(&state.config, "reading memberships", &error),
    };
    let config = &state.config;
    let (chrome, set_csrf) = chrome(&state, &headers, &signed_in, &memberships, Section::ConnectedApps);
    let apps = listed
        .into_iter()
        .map(|app| ConnectedAppView {
            scopes: scope_views(config, &app.scopes),
            host: crate::clients::metadata_document::display_host(&app.client_id),
            client_id: app.client_id,
            name: app.client_name,
            logo_url: app.client_logo_url,
            organization_id: app.organization_id,
            organization_name: app.organization_name,
            granted_at: date(app.granted_at),
            last_used: app.last_used_at.map(date),
        })
        .collect();
    // The app just revoked, named from the store (never from the link).
    let pairs = query_pairs(query);
    let revoked = match pair(&pairs, "revoked") {
        Some(client_id) => store.find_client(client_id).await.ok().flatten().map(|c| c.name),
        None => None,
    };
    let page = ConnectedAppsPage {
        brand: Brand::new(config),
        chrome,
        action: format!("{}/revoke", Section::ConnectedApps.path(config)),
        apps,
        tenant_word: config.branding.tenant_word.clone(),
        revoked,
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

/// `GET` of the revoke address (a sign-in that came back to the form's
/// address after the session expired): the page itself.
pub async fn back_to_page(State(state): State<AppState>) -> Response {
    see_other(&Section::ConnectedApps.path(&state.config), None)
}

pub async fn revoke(State(state): State<AppState>, signed_in: SignedIn, form: CsrfForm) -> Response {
    let user_id = &signed_in.user.id;
    let (client_id, organization_id) = (form.text("client_id"), form.text("organization_id"));
    let store = state.store.as_ref();
    let actor = Actor::User(user_id.clone());
    let revoked = connected::revoke(store, &actor, user_id, organization_id, client_id, unix_now()).await;
    let page = Section::ConnectedApps.path(&state.config);
    match revoked {
        Ok(true) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("revoked", client_id)
                .finish();
            see_other(&format!("{page}?{query}"), None)
        }
        Ok(false) => see_other(&page, None),
        Err(error) => storage_failure_page(&state.config, "revoking a connected app", &error),
    }
}
