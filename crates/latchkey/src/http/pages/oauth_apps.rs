//! `{settings}/oauth-apps` (SPEC 9, ClientCasa's "Settings → OAuth Apps"):
//! an organization's OAuth apps — the list (with a picker when the user
//! belongs to several organizations) and each app's page with its
//! client_id (and its secret exactly once, in the answer to the form that
//! created or rotated it), Rotate secret and Delete behind a
//! confirmation, Disable and Enable. The Create app and Edit forms are
//! [`super::oauth_app_form`]. Who may see and change what is
//! [`crate::dashboard`]'s to decide; the changes are [`crate::clients`]'.
//! A page this user may not see or change answers the same 404 page as
//! one that does not exist.

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use super::extract::{CsrfForm, Member, SignedIn};
use super::see_other;
use super::settings::{Picker, Section, with_organization};
use super::{Brand, ScopeView, date, date_time, not_found_page, render, scope_views, storage_failure_page};
use crate::config::Config;
use crate::dashboard::{self, Access, DashboardError, Workspace};
use crate::grants::consent::Membership;
use crate::http::{AppState, pair, query_pairs, without_nul};
use crate::oauth::grant_type::GrantType;
use crate::secret::Secret;
use crate::store::{AuditEvent, ClientRecord, ScopeReviewRecord, ScopeReviewStatus};
use crate::unix_now;

/// An app id from the path; one that cannot be read answers 404.
pub struct AppId(pub String);

impl FromRequestParts<AppState> for AppId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            // As in forms: a NUL never reaches storage.
            Ok(Path(id)) => Ok(Self(without_nul(&id))),
            Err(_) => Err(not_found_page(&state.config)),
        }
    }
}

/// The page for a refused dashboard change that is not the form's fault.
pub fn refused(config: &Config, what: &str, error: &DashboardError) -> Response {
    match error {
        DashboardError::NotFound => not_found_page(config),
        DashboardError::Store(error) => storage_failure_page(config, what, error),
        DashboardError::Invalid { message, .. } => {
            super::error_page(config, StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }
}

pub(super) fn apps_path(config: &Config) -> String {
    Section::OAuthApps.path(config)
}

pub(super) fn app_path(config: &Config, client_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("{}/{encoded}", apps_path(config))
}

/// One row of the list.
pub struct AppRow {
    pub name: String,
    pub href: String,
    pub client_id: String,
    pub enabled: bool,
    pub created: String,
}

#[derive(askama::Template)]
#[template(path = "oauth_apps.html")]
pub struct AppsPage {
    pub brand: Brand,
    pub chrome: super::settings::Chrome,
    pub organization_name: String,
    pub can_manage: bool,
    pub picker: Option<Picker>,
    pub create_href: String,
    pub apps: Vec<AppRow>,
    pub notice: Option<&'static str>,
}

/// `GET {settings}/oauth-apps?organization=<id>`
pub async fn list(State(state): State<AppState>, member: Member, RawQuery(query): RawQuery) -> Response {
    let config = &state.config;
    let query = query_pairs(query);
    let Some(workspace) = dashboard::viewable(config, &member.memberships, pair(&query, "organization"))
    else {
        return not_found_page(config);
    };
    let apps = match dashboard::list_apps(state.store.as_ref(), &workspace).await {
        Ok(apps) => apps,
        Err(error) => return storage_failure_page(config, "listing apps", &error),
    };
    let (chrome, set_csrf) = member.chrome(&state, Section::OAuthApps);
    let choices = member
        .memberships
        .iter()
        .map(|m| (m.organization.id.clone(), picker_label(config, m)))
        .collect();
    let organization_id = &workspace.organization.id;
    let deleted = pair(&query, "deleted").is_some();
    let page = AppsPage {
        brand: Brand::new(config),
        chrome,
        picker: Picker::new(config, apps_path(config), organization_id, choices),
        create_href: with_organization(&format!("{}/new", apps_path(config)), organization_id),
        apps: apps.into_iter().map(|app| row(config, app)).collect(),
        can_manage: workspace.can_manage(),
        organization_name: workspace.organization.name,
        notice: deleted.then_some("The app was deleted, with every grant and token it held."),
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

/// An organization as the apps picker names it: read-only ones say so.
fn picker_label(config: &Config, membership: &Membership) -> String {
    match dashboard::access(config, membership) {
        Access::Manage => membership.organization.name.clone(),
        Access::Read => format!("{} (view only)", membership.organization.name),
    }
}

fn row(config: &Config, app: ClientRecord) -> AppRow {
    AppRow {
        href: app_path(config, &app.client_id),
        name: app.name,
        client_id: app.client_id,
        enabled: app.enabled,
        created: date(app.created_at),
    }
}

/// A secret shown once, with what to do about it.
pub struct Revealed {
    pub heading: &'static str,
    pub message: &'static str,
    pub secret: Secret,
}

/// What an app page shows besides the app: a notice of what was just
/// done, and a secret just made.
#[derive(Default)]
pub struct Shown {
    pub notice: Option<&'static str>,
    pub revealed: Option<Revealed>,
}

/// A scope awaiting the platform's approval, or denied with a reason.
pub struct ReviewView {
    pub scope: ScopeView,
    pub denied_reason: Option<String>,
}

fn review_views(config: &Config, reviews: Vec<ScopeReviewRecord>) -> Vec<ReviewView> {
    reviews
        .into_iter()
        .map(|review| ReviewView {
            scope: scope_views(config, std::slice::from_ref(&review.scope))
                .into_iter()
                .next()
                .unwrap_or(ScopeView {
                    name: review.scope.clone(),
                    description: review.scope.clone(),
                }),
            denied_reason: match review.status {
                ScopeReviewStatus::Pending => None,
                ScopeReviewStatus::Denied => Some(review.reason.unwrap_or_default()),
            },
        })
        .collect()
}

/// A refresh-token replay detected for the app, as its page lists it.
pub struct ReplayView {
    pub when: String,
    pub grant_id: Option<String>,
    pub user_id: Option<String>,
}

impl From<AuditEvent> for ReplayView {
    fn from(event: AuditEvent) -> Self {
        Self {
            when: date_time(event.occurred_at),
            grant_id: event.grant_id,
            user_id: event.user_id,
        }
    }
}

/// An app as its page shows it.
pub struct AppView {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub homepage_url: Option<String>,
    pub logo_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<ScopeView>,
    /// Scopes the app asked for that are not allowed (yet).
    pub reviews: Vec<ReviewView>,
    pub confidential: bool,
    pub auth_method: String,
    /// Machine-to-machine access (the client_credentials grant).
    pub machine_access: bool,
    pub enabled: bool,
    pub created: String,
    pub updated: String,
}

#[derive(askama::Template)]
#[template(path = "oauth_app.html")]
pub struct AppPage {
    pub brand: Brand,
    pub chrome: super::settings::Chrome,
    pub app: AppView,
    pub organization_name: String,
    pub tenant_word: String,
    pub can_manage: bool,
    pub list_href: String,
    /// The app's path; its actions are below it.
    pub app_href: String,
    pub shown: Shown,
    /// The latest refresh-token replay detections, newest first.
    pub replays: Vec<ReplayView>,
    pub grace_seconds: i64,
}

pub(super) async fn app_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    app: ClientRecord,
    workspace: Workspace,
    shown: Shown,
) -> Response {
    let config = &state.config;
    let reviews = match dashboard::app_reviews(state.store.as_ref(), &app).await {
        Ok(reviews) => reviews,
        Err(error) => return refused(config, "reading an app", &error),
    };
    let replays = match dashboard::app_replays(state.store.as_ref(), &app).await {
        Ok(replays) => replays,
        Err(error) => return refused(config, "reading an app", &error),
    };
    let grace = if app.secret_digest.is_some() {
        config.tokens.refresh_token_grace
    } else {
        config.tokens.public_client_refresh_token_grace
    };
    let (chrome, set_csrf) = member.chrome(state, Section::OAuthApps);
    let view = AppView {
        scopes: scope_views(config, &app.allowed_scopes),
        reviews: review_views(config, reviews),
        confidential: app.secret_digest.is_some(),
        auth_method: app.token_endpoint_auth_method,
        machine_access: app.grant_types.contains(&GrantType::ClientCredentials),
        enabled: app.enabled,
        created: date(app.created_at),
        updated: date(app.updated_at),
        name: app.name,
        description: app.description,
        homepage_url: app.homepage_url,
        logo_url: app.logo_url,
        redirect_uris: app.redirect_uris,
        client_id: app.client_id,
    };
    let page = AppPage {
        brand: Brand::new(config),
        chrome,
        list_href: with_organization(&apps_path(config), &workspace.organization.id),
        app_href: app_path(config, &view.client_id),
        app: view,
        can_manage: workspace.can_manage(),
        organization_name: workspace.organization.name,
        tenant_word: config.branding.tenant_word.clone(),
        shown,
        replays: replays.into_iter().map(ReplayView::from).collect(),
        grace_seconds: crate::config::seconds(grace),
    };
    render(config, status, &page, &[set_csrf])
}

/// The notice for `?done=` after a change (fixed sentences only).
fn done_notice(query: Option<String>) -> Option<&'static str> {
    match pair(&query_pairs(query), "done")? {
        "saved" => Some("Changes saved."),
        "disabled" => {
            Some("The app is disabled. It cannot be authorized, and every token it held has stopped working.")
        }
        "enabled" => Some("The app is enabled. People can authorize it again."),
        _ => None,
    }
}

/// `GET {settings}/oauth-apps/{client_id}`: never shows a secret.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    AppId(client_id): AppId,
    RawQuery(query): RawQuery,
) -> Response {
    match dashboard::app(
        state.store.as_ref(),
        &state.config,
        &member.memberships,
        &client_id,
    )
    .await
    {
        Ok((app, workspace)) => {
            let shown = Shown {
                notice: done_notice(query),
                revealed: None,
            };
            app_page(&state, &member, StatusCode::OK, app, workspace, shown).await
        }
        Err(error) => refused(&state.config, "reading an app", &error),
    }
}

/// `POST {settings}/oauth-apps/{client_id}/rotate-secret`: answers the
/// app's page with the new secret, shown this once.
pub async fn rotate_secret(
    State(state): State<AppState>,
    member: Member,
    AppId(client_id): AppId,
    _form: CsrfForm,
) -> Response {
    let actor = member.actor();
    let store = state.store.as_ref();
    match dashboard::rotate_app_secret(
        store,
        &state.config,
        &member.memberships,
        &client_id,
        &actor,
        unix_now(),
    )
    .await
    {
        Ok((app, workspace, secret)) => {
            let revealed = Some(Revealed {
                heading: "New client secret",
                message: "The previous secret stopped working just now: put this one in your app. People who connected the app stay connected. Copy it now; it cannot be shown again.",
                secret,
            });
            let shown = Shown {
                notice: None,
                revealed,
            };
            app_page(&state, &member, StatusCode::OK, app, workspace, shown).await
        }
        Err(error) => refused(&state.config, "rotating a secret", &error),
    }
}

/// `POST {settings}/oauth-apps/{client_id}/disable`
pub async fn disable(state: State<AppState>, member: Member, id: AppId, form: CsrfForm) -> Response {
    set_enabled(state, member, id, form, false).await
}

/// `POST {settings}/oauth-apps/{client_id}/enable`
pub async fn enable(state: State<AppState>, member: Member, id: AppId, form: CsrfForm) -> Response {
    set_enabled(state, member, id, form, true).await
}

async fn set_enabled(
    State(state): State<AppState>,
    member: Member,
    AppId(client_id): AppId,
    _form: CsrfForm,
    enabled: bool,
) -> Response {
    let actor = member.actor();
    let store = state.store.as_ref();
    match dashboard::set_app_enabled(
        store,
        &state.config,
        &member.memberships,
        &client_id,
        enabled,
        &actor,
        unix_now(),
    )
    .await
    {
        Ok((app, _)) => {
            let done = if enabled { "enabled" } else { "disabled" };
            see_other(
                &format!("{}?done={done}", app_path(&state.config, &app.client_id)),
                None,
            )
        }
        Err(error) => refused(&state.config, "disabling or enabling an app", &error),
    }
}

/// `POST {settings}/oauth-apps/{client_id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    AppId(client_id): AppId,
    _form: CsrfForm,
) -> Response {
    let actor = member.actor();
    let store = state.store.as_ref();
    match dashboard::delete_app(
        store,
        &state.config,
        &member.memberships,
        &client_id,
        &actor,
        unix_now(),
    )
    .await
    {
        Ok(workspace) => {
            let list = with_organization(&apps_path(&state.config), &workspace.organization.id);
            see_other(&format!("{list}&deleted=1"), None)
        }
        Err(error) => refused(&state.config, "deleting an app", &error),
    }
}

/// `GET` of an action's address (where signing in again after a form
/// was sent leads): the app's page.
pub async fn back_to_app(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    AppId(client_id): AppId,
) -> Response {
    see_other(&app_path(&state.config, &client_id), None)
}
