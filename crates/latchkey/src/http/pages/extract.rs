//! The things page handlers need, as axum extractors: a signed-in user
//! ([`SignedIn`]; without one the browser is sent to sign in and brought
//! back), the same with the user's organizations for the dashboard's
//! pages ([`Member`]), and a form whose CSRF token was made for this
//! browser and session ([`CsrfForm`]; otherwise the "form expired" page).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use url::form_urlencoded;

use super::see_other;
use super::{error_page, return_to, storage_failure_page};
use crate::accounts::sessions;
use crate::audit::Actor;
use crate::grants::consent::{self, Membership};
use crate::http::{AppState, cookies, form_pairs, pair};
use crate::store::{SessionRecord, StoreError, UserRecord};
use crate::unix_now;

pub const FORM_EXPIRED: &str = "This form has expired. Go back, reload the page and try again.";

/// The user of a live browser session.
pub struct SignedIn {
    pub session: SessionRecord,
    pub user: UserRecord,
}

/// The sign-in page, coming back to `target` (when it is a same-origin
/// path) afterwards.
pub fn sign_in_first(state: &AppState, target: &str) -> Response {
    let back = return_to::or_home(&state.config.issuer, Some(target));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &back)
        .finish();
    see_other(&format!("{}?{query}", state.config.paths.login), None)
}

impl SignedIn {
    /// The user of the live session the request's cookie names, if any.
    pub async fn resume(state: &AppState, headers: &HeaderMap) -> Result<Option<Self>, StoreError> {
        let Some(value) = cookies::session_value(&state.config, headers) else {
            return Ok(None);
        };
        let resumed = sessions::resume(state.store.as_ref(), &value, unix_now()).await?;
        Ok(resumed.map(|(session, user)| Self { session, user }))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match <Self as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state).await? {
            Some(signed_in) => Ok(signed_in),
            None => {
                // After signing in, come back to the page (a form's page
                // for a POST, which cannot be repeated by a redirect).
                let target = match parts.method {
                    axum::http::Method::GET => {
                        parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned()
                    }
                    _ => parts.uri.path().to_owned(),
                };
                Err(sign_in_first(state, &target))
            }
        }
    }
}

/// `Option<SignedIn>`: `None` without a live session, for handlers that
/// decide themselves what a missing session means.
impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Response> {
        Self::resume(state, &parts.headers)
            .await
            .map_err(|error| storage_failure_page(&state.config, "reading the session", &error))
    }
}

/// A signed-in user with their organizations and roles, and the request
/// headers the settings layout reads its CSRF cookie from.
pub struct Member {
    pub signed_in: SignedIn,
    pub memberships: Vec<Membership>,
    pub headers: axum::http::HeaderMap,
}

impl Member {
    /// Who the audit log names for this user's changes.
    pub fn actor(&self) -> Actor {
        Actor::User(self.signed_in.user.id.clone())
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        let memberships = consent::memberships(state.store.as_ref(), &signed_in.user.id)
            .await
            .map_err(|error| storage_failure_page(&state.config, "reading memberships", &error))?;
        Ok(Self {
            signed_in,
            memberships,
            headers: parts.headers.clone(),
        })
    }
}

/// The name/value pairs of a form body whose CSRF token matches this
/// browser's cookies.
pub struct CsrfForm(pub Vec<(String, String)>);

impl CsrfForm {
    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        pair(&self.0, name)
    }

    /// The first value of `name`, or empty.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let pairs = form_pairs(&body);
        let submitted = pair(&pairs, "csrf_token");
        if !cookies::csrf_matches(&state.form_key, &state.config, &headers, submitted) {
            return Err(error_page(
                &state.config,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                FORM_EXPIRED,
            ));
        }
        Ok(Self(pairs))
    }
}
