//! The signed-in part of the site (SPEC 9): the home (`/` and the
//! settings prefix lead to the first section), the layout every settings
//! page shares ([`Chrome`]: who is signed in, the sign-out form, the
//! navigation), and the theme stylesheet with the configured accent color.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{Member, SignedIn};
use super::see_other;
use crate::config::Config;
use crate::dashboard;
use crate::grants::consent::Membership;
use crate::http::{AppState, cookies};

/// The sections of the settings pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    ConnectedApps,
    Sessions,
    Password,
    Passkeys,
    TwoStep,
    OAuthApps,
    ApiKeys,
}

impl Section {
    fn label(self) -> &'static str {
        match self {
            Self::ConnectedApps => "Connected Apps",
            Self::Sessions => "Sessions",
            Self::Password => "Password",
            Self::Passkeys => "Passkeys",
            Self::TwoStep => "Two-step verification",
            Self::OAuthApps => "OAuth Apps",
            Self::ApiKeys => "API Keys",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Self::ConnectedApps => "connected-apps",
            Self::Sessions => "sessions",
            Self::Password => "password",
            Self::Passkeys => "passkeys",
            Self::TwoStep => "two-step",
            Self::OAuthApps => "oauth-apps",
            Self::ApiKeys => "api-keys",
        }
    }

    /// The section's path under the configured settings prefix.
    pub fn path(self, config: &Config) -> String {
        format!("{}/{}", config.paths.settings, self.slug())
    }

    /// Whether this server has the section: with delegated sign-in the
    /// platform owns passwords and second factors; passkeys need a relying
    /// party (a domain name, and local sign-in).
    fn offered(self, state: &AppState) -> bool {
        let local = matches!(state.config.login.mode, crate::config::LoginMode::Local);
        match self {
            Self::Password | Self::TwoStep => local,
            Self::Passkeys => state.relying_party.is_some(),
            Self::ConnectedApps | Self::Sessions | Self::OAuthApps | Self::ApiKeys => true,
        }
    }

    /// Whether only organization admins see the section.
    fn for_admins(self) -> bool {
        match self {
            Self::ConnectedApps | Self::Sessions | Self::Password | Self::Passkeys | Self::TwoStep => false,
            Self::OAuthApps | Self::ApiKeys => true,
        }
    }
}

/// One link of the navigation.
pub struct NavItem {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// What the settings layout shows around a page.
pub struct Chrome {
    pub user_name: String,
    pub user_email: String,
    pub logout_action: String,
    pub csrf_token: String,
    pub nav: Vec<NavItem>,
}

/// The memberships in which the user is an admin (the rule is the
/// dashboard's: [`dashboard::administered`]).
pub fn administered(config: &Config, memberships: &[Membership]) -> Vec<Membership> {
    dashboard::administered(config, memberships)
}

/// The layout for `current`, with the CSRF cookie to set if the browser
/// has none yet. Admin-only sections are listed for organization admins.
pub fn chrome(
    state: &AppState,
    headers: &HeaderMap,
    signed_in: &SignedIn,
    memberships: &[Membership],
    current: Section,
) -> (Chrome, Option<HeaderValue>) {
    let config = &state.config;
    let is_admin = !administered(config, memberships).is_empty();
    let nav = [
        Section::ConnectedApps,
        Section::Sessions,
        Section::Password,
        Section::Passkeys,
        Section::TwoStep,
        Section::OAuthApps,
        Section::ApiKeys,
    ]
    .into_iter()
    .filter(|section| is_admin || !section.for_admins() || *section == current)
    .filter(|section| section.offered(state))
    .map(|section| NavItem {
        label: section.label(),
        href: section.path(config),
        current: section == current,
    })
    .collect();
    let (csrf_token, set_csrf) = cookies::csrf_token(&state.form_key, config, headers);
    let chrome = Chrome {
        user_name: signed_in.user.name.clone(),
        user_email: signed_in.user.email.clone(),
        logout_action: config.paths.logout.clone(),
        csrf_token,
        nav,
    };
    (chrome, set_csrf)
}

impl Member {
    /// The layout for `current` around a dashboard page.
    pub fn chrome(&self, state: &AppState, current: Section) -> (Chrome, Option<HeaderValue>) {
        chrome(state, &self.headers, &self.signed_in, &self.memberships, current)
    }
}

/// `GET /` and `GET {settings}`: the signed-in home is the first section;
/// signed out, the sign-in page comes first and leads back here.
pub async fn home(State(state): State<AppState>, _signed_in: SignedIn) -> Response {
    see_other(&Section::ConnectedApps.path(&state.config), None)
}

/// `/static/theme.css`: the configured accent color as a custom property
/// (a stylesheet, since the pages' CSP allows no inline style).
pub async fn theme(State(state): State<AppState>) -> Response {
    let css = format!(":root {{ --accent: {}; }}\n", state.config.branding.accent_color);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        css,
    )
        .into_response()
}

/// One organization offered by a picker or a form's select.
pub struct OrganizationChoice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

/// The small form that chooses the organization a page works on (a GET
/// with `?organization=`), shown when the user has more than one to
/// choose from.
pub struct Picker {
    pub action: String,
    pub label: String,
    pub choices: Vec<OrganizationChoice>,
}

impl Picker {
    /// A picker over `choices` (id, label) for the page at `action`, or
    /// `None` when there is nothing to choose.
    pub fn new(
        config: &Config,
        action: String,
        selected: &str,
        choices: Vec<(String, String)>,
    ) -> Option<Self> {
        (choices.len() > 1).then(|| Self {
            action,
            label: capitalized(&config.branding.tenant_word),
            choices: organization_choices(choices, selected),
        })
    }
}

/// `choices` (id, label) with `selected` marked.
pub fn organization_choices(choices: Vec<(String, String)>, selected: &str) -> Vec<OrganizationChoice> {
    choices
        .into_iter()
        .map(|(id, label)| OrganizationChoice {
            selected: id == selected,
            id,
            label,
        })
        .collect()
}

/// `word` with its first letter in upper case ("firm" → "Firm").
pub fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `path` with `?organization=<id>`.
pub fn with_organization(path: &str, organization_id: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("organization", organization_id)
        .finish();
    format!("{path}?{query}")
}
