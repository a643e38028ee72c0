//! `{settings}/api-keys` (SPEC 9, 11): an organization's API keys, for its
//! admins only — the list (scopes as their descriptions, created, last
//! used, status), the create form (name, scopes from the API part of the
//! vocabulary, the organization when the user administers several), the
//! key shown exactly once in the answer to that form, and Revoke behind a
//! confirmation. Who may do what is [`crate::dashboard`]'s to decide; the
//! keys themselves are [`crate::accounts::api_keys`]'. Anyone else gets
//! the 404 page.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{CsrfForm, Member, SignedIn};
use super::oauth_apps::refused;
use super::see_other;
use super::settings::{
    OrganizationChoice, Picker, Section, capitalized, organization_choices, with_organization,
};
use super::{Brand, ScopeChoice, ScopeView, date, not_found_page, render, scope_views, storage_failure_page};
use crate::accounts::api_keys::api_scopes;
use crate::config::Config;
use crate::dashboard::{self, DashboardError, KeyDraft, Workspace};
use crate::http::{AppState, pair};
use crate::secret::Secret;
use crate::store::ApiKeyRecord;
use crate::unix_now;

/// One row of the list.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: Vec<ScopeView>,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// The create form's values as typed, and its messages.
#[derive(Default)]
pub struct KeyForm {
    pub name: String,
    pub scopes: Vec<String>,
    pub name_error: Option<String>,
    pub scopes_error: Option<String>,
    pub form_error: Option<String>,
}

impl KeyForm {
    /// Places a domain message beside the field it is about.
    fn refused(mut self, field: &str, message: &str) -> Self {
        let message = capitalized(message);
        match field {
            "name" => self.name_error = Some(message),
            "scopes" => self.scopes_error = Some(message),
            _ => self.form_error = Some(message),
        }
        self
    }
}

/// A key just made, shown this once.
pub struct NewKey {
    pub name: String,
    pub key: Secret,
}

#[derive(askama::Template)]
#[template(path = "api_keys.html")]
pub struct ApiKeysPage {
    pub brand: Brand,
    pub chrome: super::settings::Chrome,
    pub organization_id: String,
    pub organization_name: String,
    pub organization_label: String,
    pub picker: Option<Picker>,
    pub keys: Vec<KeyRow>,
    pub action: String,
    pub revoke_action: String,
    /// The organizations a new key may belong to (one: not asked).
    pub organizations: Vec<OrganizationChoice>,
    pub scopes: Vec<ScopeChoice>,
    pub form: KeyForm,
    pub new_key: Option<NewKey>,
    pub notice: Option<&'static str>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Extras {
    form: KeyForm,
    new_key: Option<NewKey>,
    notice: Option<&'static str>,
}

fn row(config: &Config, key: ApiKeyRecord) -> KeyRow {
    KeyRow {
        scopes: scope_views(config, &key.scopes),
        created: date(key.created_at),
        last_used: key.last_used_at.map(date),
        revoked: key.revoked_at.map(date),
        id: key.id,
        name: key.name,
    }
}

/// The page of `workspace`'s keys.
async fn keys_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    workspace: Workspace,
    extras: Extras,
) -> Response {
    let config = &state.config;
    let keys = match dashboard::list_api_keys(state.store.as_ref(), &workspace).await {
        Ok(keys) => keys,
        Err(error) => return storage_failure_page(config, "listing API keys", &error),
    };
    let (chrome, set_csrf) = member.chrome(state, Section::ApiKeys);
    let administered: Vec<(String, String)> = dashboard::administered(config, &member.memberships)
        .into_iter()
        .map(|m| (m.organization.id, m.organization.name))
        .collect();
    let organization_id = workspace.organization.id;
    let page = ApiKeysPage {
        brand: Brand::new(config),
        chrome,
        picker: Picker::new(
            config,
            Section::ApiKeys.path(config),
            &organization_id,
            administered.clone(),
        ),
        organizations: organization_choices(administered, &organization_id),
        organization_label: capitalized(&config.branding.tenant_word),
        organization_name: workspace.organization.name,
        keys: keys.into_iter().map(|key| row(config, key)).collect(),
        action: Section::ApiKeys.path(config),
        revoke_action: format!("{}/revoke", Section::ApiKeys.path(config)),
        scopes: api_scopes(config)
            .map(|scope| ScopeChoice {
                sensitive: false,
                name: scope.name.clone(),
                description: scope.description.clone(),
                checked: extras.form.scopes.contains(&scope.name),
            })
            .collect(),
        organization_id,
        form: extras.form,
        new_key: extras.new_key,
        notice: extras.notice,
    };
    render(config, status, &page, &[set_csrf])
}

/// `GET {settings}/api-keys?organization=<id>`
pub async fn list(State(state): State<AppState>, member: Member, RawQuery(query): RawQuery) -> Response {
    let query = crate::http::query_pairs(query);
    let Some(workspace) =
        dashboard::manageable(&state.config, &member.memberships, pair(&query, "organization"))
    else {
        return not_found_page(&state.config);
    };
    let revoked = pair(&query, "revoked").is_some();
    let extras = Extras {
        notice: revoked.then_some("The key was revoked. It stopped working at once."),
        ..Extras::default()
    };
    keys_page(&state, &member, StatusCode::OK, workspace, extras).await
}

/// `POST {settings}/api-keys`: creates a key and answers the page with
/// the key, shown this once; a refused field shows the form again with
/// the message beside it and everything as typed.
pub async fn create(State(state): State<AppState>, member: Member, form: CsrfForm) -> Response {
    let draft = KeyDraft {
        organization_id: form.text("organization").to_owned(),
        name: form.text("name").to_owned(),
        scopes: form.all("scopes").into_iter().map(str::to_owned).collect(),
    };
    let (store, config) = (state.store.as_ref(), &state.config);
    let actor = member.actor();
    match dashboard::create_api_key(store, config, &member.memberships, &draft, &actor, unix_now()).await {
        Ok((record, key, workspace)) => {
            let new_key = Some(NewKey {
                name: record.name,
                key,
            });
            let extras = Extras {
                new_key,
                ..Extras::default()
            };
            keys_page(&state, &member, StatusCode::CREATED, workspace, extras).await
        }
        Err(DashboardError::Invalid { field, message }) => {
            // The organization was checked before the fields: it is one
            // this user administers.
            let Some(workspace) =
                dashboard::manageable(config, &member.memberships, Some(&draft.organization_id))
            else {
                return not_found_page(config);
            };
            let typed = KeyForm {
                name: draft.name,
                scopes: draft.scopes,
                ..KeyForm::default()
            };
            let extras = Extras {
                form: typed.refused(field, &message),
                ..Extras::default()
            };
            keys_page(&state, &member, StatusCode::BAD_REQUEST, workspace, extras).await
        }
        Err(error) => refused(config, "creating an API key", &error),
    }
}

/// `POST {settings}/api-keys/revoke`
pub async fn revoke(State(state): State<AppState>, member: Member, form: CsrfForm) -> Response {
    let (organization_id, key_id) = (form.text("organization"), form.text("key_id"));
    let actor = member.actor();
    let (store, config) = (state.store.as_ref(), &state.config);
    match dashboard::revoke_api_key(
        store,
        config,
        &member.memberships,
        organization_id,
        key_id,
        &actor,
        unix_now(),
    )
    .await
    {
        Ok(workspace) => {
            let list = with_organization(&Section::ApiKeys.path(config), &workspace.organization.id);
            see_other(&format!("{list}&revoked=1"), None)
        }
        Err(error) => refused(config, "revoking an API key", &error),
    }
}

/// `GET {settings}/api-keys/revoke` (where signing in again after the
/// form was sent leads): the list.
pub async fn back_to_list(State(state): State<AppState>, _signed_in: SignedIn) -> Response {
    see_other(&Section::ApiKeys.path(&state.config), None)
}
