//! The Create app and Edit forms of `{settings}/oauth-apps` (SPEC 9): the
//! fields of ClientCasa's guide (App name, Description, Homepage URL, Logo
//! URL, Redirect URIs one per line, Scopes from the vocabulary with their
//! descriptions). A refused value shows the form again with the message
//! beside the field it is about and everything as typed; a new app's page
//! comes with its client secret, shown this once.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{CsrfForm, Member};
use super::oauth_apps::{AppId, Revealed, Shown, app_page, app_path, apps_path, refused};
use super::see_other;
use super::settings::{OrganizationChoice, Section, capitalized, organization_choices, with_organization};
use super::{Brand, ScopeChoice, not_found_page, render};
use crate::config::Config;
use crate::dashboard::{self, AppDraft, DashboardError, Workspace};
use crate::grants::consent::Membership;
use crate::http::{AppState, pair};
use crate::oauth::grant_type::GrantType;
use crate::store::{ClientRecord, ScopeReviewRecord};
use crate::unix_now;

/// The form's values as typed (kept when the form is shown again).
#[derive(Default)]
pub struct AppValues {
    pub name: String,
    pub description: String,
    pub homepage_url: String,
    pub logo_url: String,
    pub redirect_uris: String,
    pub scopes: Vec<String>,
    /// "Machine-to-machine access (client credentials)" ticked.
    pub machine_access: bool,
}

impl AppValues {
    fn from_form(form: &CsrfForm) -> Self {
        Self {
            name: form.text("name").to_owned(),
            description: form.text("description").to_owned(),
            homepage_url: form.text("homepage_url").to_owned(),
            logo_url: form.text("logo_url").to_owned(),
            redirect_uris: form.text("redirect_uris").to_owned(),
            scopes: form.all("scopes").into_iter().map(str::to_owned).collect(),
            machine_access: form.text("machine_access") == "on",
        }
    }

    /// The app's fields; its scopes are the allowed ones and those under
    /// review (pending or denied).
    fn from_app(app: &ClientRecord, reviews: &[ScopeReviewRecord]) -> Self {
        let mut scopes = app.allowed_scopes.clone();
        scopes.extend(reviews.iter().map(|r| r.scope.clone()));
        Self {
            name: app.name.clone(),
            description: app.description.clone(),
            homepage_url: app.homepage_url.clone().unwrap_or_default(),
            logo_url: app.logo_url.clone().unwrap_or_default(),
            redirect_uris: app.redirect_uris.join("\n"),
            scopes,
            machine_access: app.grant_types.contains(&GrantType::ClientCredentials),
        }
    }

    /// The values as the domain takes them: one redirect URI per
    /// non-blank line, each trimmed.
    fn draft(&self) -> AppDraft {
        AppDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            homepage_url: self.homepage_url.clone(),
            logo_url: self.logo_url.clone(),
            redirect_uris: self
                .redirect_uris
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect(),
            scopes: self.scopes.clone(),
            machine_access: self.machine_access,
        }
    }
}

/// Validation messages, each shown beside the field it is about.
#[derive(Default)]
pub struct AppErrors {
    pub name: Option<String>,
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    pub logo_url: Option<String>,
    pub redirect_uris: Option<String>,
    pub scopes: Option<String>,
    pub machine_access: Option<String>,
    /// A message about no field of the form.
    pub form: Option<String>,
}

impl AppErrors {
    /// Places a domain message beside the form field named by the
    /// domain's (the admin API's) field name.
    fn of(field: &str, message: String) -> Self {
        let mut errors = Self::default();
        let slot = match field {
            "name" => &mut errors.name,
            "description" => &mut errors.description,
            "homepageUrl" => &mut errors.homepage_url,
            "logoUrl" => &mut errors.logo_url,
            "redirectUris" => &mut errors.redirect_uris,
            "allowed_scopes" => &mut errors.scopes,
            "grantTypes" | "organizationId" => &mut errors.machine_access,
            _ => &mut errors.form,
        };
        // The domain's messages start in lower case, as in API errors.
        *slot = Some(capitalized(&message));
        errors
    }
}

#[derive(askama::Template)]
#[template(path = "oauth_app_form.html")]
pub struct AppFormPage {
    pub brand: Brand,
    pub chrome: super::settings::Chrome,
    pub heading: String,
    pub action: String,
    pub button: &'static str,
    pub cancel_href: String,
    pub organization_label: String,
    /// The organizations a new app may belong to (one: shown as text).
    pub organizations: Vec<OrganizationChoice>,
    pub values: AppValues,
    pub scopes: Vec<ScopeChoice>,
    pub errors: AppErrors,
}

/// The whole vocabulary as checkboxes, `checked` ticked.
fn scope_choices(config: &Config, checked: &[String]) -> Vec<ScopeChoice> {
    config
        .scopes
        .iter()
        .map(|scope| ScopeChoice {
            name: scope.name.clone(),
            description: scope.description.clone(),
            checked: checked.contains(&scope.name),
            sensitive: scope.sensitive,
        })
        .collect()
}

/// What differs between the Create app and Edit forms.
struct FormKind {
    heading: String,
    action: String,
    button: &'static str,
    cancel_href: String,
    organizations: Vec<OrganizationChoice>,
}

fn create_kind(config: &Config, memberships: &[Membership], organization_id: &str) -> FormKind {
    let administered = dashboard::administered(config, memberships)
        .into_iter()
        .map(|m| (m.organization.id, m.organization.name))
        .collect();
    FormKind {
        heading: "Create app".into(),
        action: format!("{}/new", apps_path(config)),
        button: "Create app",
        cancel_href: with_organization(&apps_path(config), organization_id),
        organizations: organization_choices(administered, organization_id),
    }
}

fn edit_kind(config: &Config, app: &ClientRecord, workspace: &Workspace) -> FormKind {
    let app_href = app_path(config, &app.client_id);
    FormKind {
        heading: format!("Edit {}", app.name),
        action: format!("{app_href}/edit"),
        button: "Save changes",
        cancel_href: app_href,
        organizations: organization_choices(
            vec![(
                workspace.organization.id.clone(),
                workspace.organization.name.clone(),
            )],
            &workspace.organization.id,
        ),
    }
}

fn form_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    kind: FormKind,
    values: AppValues,
    errors: AppErrors,
) -> Response {
    let config = &state.config;
    let (chrome, set_csrf) = member.chrome(state, Section::OAuthApps);
    let page = AppFormPage {
        brand: Brand::new(config),
        chrome,
        heading: kind.heading,
        action: kind.action,
        button: kind.button,
        cancel_href: kind.cancel_href,
        organization_label: capitalized(&config.branding.tenant_word),
        organizations: kind.organizations,
        scopes: scope_choices(config, &values.scopes),
        values,
        errors,
    };
    render(config, status, &page, &[set_csrf])
}

/// `GET {settings}/oauth-apps/new?organization=<id>`: the Create app form
/// (for an organization the user administers).
pub async fn new(State(state): State<AppState>, member: Member, RawQuery(query): RawQuery) -> Response {
    let query = crate::http::query_pairs(query);
    let Some(workspace) =
        dashboard::manageable(&state.config, &member.memberships, pair(&query, "organization"))
    else {
        return not_found_page(&state.config);
    };
    let kind = create_kind(&state.config, &member.memberships, &workspace.organization.id);
    let values = AppValues {
        scopes: vec!["openid".into()],
        ..AppValues::default()
    };
    form_page(
        &state,
        &member,
        StatusCode::OK,
        kind,
        values,
        AppErrors::default(),
    )
}

/// `POST {settings}/oauth-apps/new`: registers the app and answers its
/// page with the client secret, shown this once; a refused field shows
/// the form again with the message beside it and everything as typed.
pub async fn create(State(state): State<AppState>, member: Member, form: CsrfForm) -> Response {
    let values = AppValues::from_form(&form);
    let organization_id = form.text("organization");
    let store = state.store.as_ref();
    match dashboard::create_app(
        store,
        &state.config,
        &member.memberships,
        organization_id,
        values.draft(),
        unix_now(),
    )
    .await
    {
        Ok((registered, workspace)) => {
            let revealed = registered.client_secret.map(|secret| Revealed {
                heading: "App created",
                message: "Copy the client secret now and store it somewhere safe. It cannot be shown again: only a digest of it is kept. If you lose it, rotate the secret.",
                secret,
            });
            let shown = Shown {
                notice: None,
                revealed,
            };
            app_page(
                &state,
                &member,
                StatusCode::CREATED,
                registered.client,
                workspace,
                shown,
            )
            .await
        }
        Err(DashboardError::Invalid { field, message }) => {
            let kind = create_kind(&state.config, &member.memberships, organization_id);
            let errors = AppErrors::of(field, message);
            form_page(&state, &member, StatusCode::BAD_REQUEST, kind, values, errors)
        }
        Err(error) => refused(&state.config, "creating an app", &error),
    }
}

/// `GET {settings}/oauth-apps/{client_id}/edit`: the form, prefilled.
pub async fn edit(State(state): State<AppState>, member: Member, AppId(client_id): AppId) -> Response {
    let (store, config) = (state.store.as_ref(), &state.config);
    match dashboard::managed_app_with_reviews(store, config, &member.memberships, &client_id).await {
        Ok((app, reviews, workspace)) => {
            let kind = edit_kind(config, &app, &workspace);
            let values = AppValues::from_app(&app, &reviews);
            form_page(
                &state,
                &member,
                StatusCode::OK,
                kind,
                values,
                AppErrors::default(),
            )
        }
        Err(error) => refused(config, "reading an app", &error),
    }
}

/// `POST {settings}/oauth-apps/{client_id}/edit`
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    AppId(client_id): AppId,
    form: CsrfForm,
) -> Response {
    let values = AppValues::from_form(&form);
    let store = state.store.as_ref();
    match dashboard::update_app(
        store,
        &state.config,
        &member.memberships,
        &client_id,
        values.draft(),
        unix_now(),
    )
    .await
    {
        Ok((app, _)) => see_other(
            &format!("{}?done=saved", app_path(&state.config, &app.client_id)),
            None,
        ),
        Err(DashboardError::Invalid { field, message }) => {
            let errors = AppErrors::of(field, message);
            edit_again(&state, &member, &client_id, values, errors).await
        }
        Err(error) => refused(&state.config, "changing an app", &error),
    }
}

/// The Edit form again, as typed, with the refused field's message.
async fn edit_again(
    state: &AppState,
    member: &Member,
    client_id: &str,
    values: AppValues,
    errors: AppErrors,
) -> Response {
    let (store, config) = (state.store.as_ref(), &state.config);
    match dashboard::managed_app(store, config, &member.memberships, client_id).await {
        Ok((app, workspace)) => {
            let kind = edit_kind(config, &app, &workspace);
            form_page(state, member, StatusCode::BAD_REQUEST, kind, values, errors)
        }
        Err(error) => refused(config, "reading an app", &error),
    }
}
