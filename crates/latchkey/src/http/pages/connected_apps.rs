//! `{settings}/connected-apps`: the signed-in user's authorized apps, each
//! with a Revoke button. Without a session, the sign-in page comes first.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use url::form_urlencoded;

use super::login::see_other;
use super::{Brand, ConnectedAppView, ConnectedAppsPage, error_page, render, storage_failure_page};
use crate::accounts::sessions;
use crate::audit::Actor;
use crate::grants::connected;
use crate::http::{AppState, cookies, form_pairs, pair};
use crate::store::UserRecord;
use crate::unix_now;

fn page_path(state: &AppState) -> String {
    format!("{}/connected-apps", state.config.paths.settings)
}

/// The signed-in user, or the redirect to sign in first.
async fn user_or_login(state: &AppState, headers: &HeaderMap) -> Result<UserRecord, Response> {
    let session = match cookies::session_value(&state.config, headers) {
        Some(value) => sessions::resume(state.store.as_ref(), &value, unix_now()).await,
        None => Ok(None),
    };
    match session {
        Ok(Some((_, user))) => Ok(user),
        Ok(None) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &page_path(state))
                .finish();
            Err(see_other(&format!("{}?{query}", state.config.paths.login), None))
        }
        Err(error) => Err(storage_failure_page(&state.config, "reading the session", &error)),
    }
}

/// The scopes in vocabulary order, comma-separated.
fn scope_list(config: &crate::config::Config, scopes: &[String]) -> String {
    match crate::oauth::scope::ScopeSet::from_tokens(scopes) {
        Ok(set) => config.scope_string(&set).replace(' ', ", "),
        Err(_) => scopes.join(", "),
    }
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let user = match user_or_login(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let apps = match connected::list(state.store.as_ref(), &user.id).await {
        Ok(apps) => apps,
        Err(error) => {
            return storage_failure_page(&state.config, "listing connected apps", &error);
        }
    };
    let config = &state.config;
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, config, &headers);
    let brand = Brand::new(config);
    let apps = apps
        .into_iter()
        .map(|app| ConnectedAppView {
            client_id: app.client_id,
            name: app.client_name,
            logo_url: app.client_logo_url,
            organization_id: app.organization_id,
            organization_name: app.organization_name,
            scopes: scope_list(config, &app.scopes),
            granted_at: date(app.granted_at),
            updated_at: date(app.updated_at),
        })
        .collect();
    let page = ConnectedAppsPage {
        product_name: brand.product_name,
        product_logo: brand.product_logo,
        action: format!("{}/revoke", page_path(&state)),
        csrf_token: csrf,
        user_name: user.name,
        user_email: user.email,
        apps,
        tenant_word: config.branding.tenant_word.clone(),
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    if !cookies::csrf_matches(
        &state.form_key,
        &state.config,
        &headers,
        pair(&pairs, "csrf_token"),
    ) {
        let message = "This form has expired. Go back, reload the page and try again.";
        return error_page(&state.config, StatusCode::BAD_REQUEST, "invalid_request", message);
    }
    let user = match user_or_login(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let client_id = pair(&pairs, "client_id").unwrap_or_default();
    let organization_id = pair(&pairs, "organization_id").unwrap_or_default();
    let actor = Actor::User(user.id.clone());
    let now = unix_now();
    match connected::revoke(
        state.store.as_ref(),
        &actor,
        &user.id,
        organization_id,
        client_id,
        now,
    )
    .await
    {
        Ok(_) => see_other(&page_path(&state), None),
        Err(error) => storage_failure_page(&state.config, "revoking a connected app", &error),
    }
}
