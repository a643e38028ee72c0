//! The authorization endpoint's path from a validated request to a code
//! (SPEC 6): whether the user must sign in (again), which organization the
//! authorization acts on, whether a remembered consent covers the request
//! or the consent page must ask, and what the user's answer on that page
//! leads to. Every such decision is made here, free of HTTP, as a [`Step`];
//! `http/oauth/authorize.rs` only turns a step into a redirect or a page.
//!
//! The organization rule: a request may name the organization it acts on
//! (`organization_id`). Without it, a user who belongs to one organization
//! is asked once and then remembered, as SPEC 6 describes; a user who
//! belongs to several is shown the consent page every time, with the
//! organization they consented in most recently preselected, so that a
//! code never acts on an organization the user did not choose for this
//! authorization. A named organization must be one of the user's; its
//! remembered consent skips the page. An organization whose members must
//! use a second factor gets codes only from sessions that used two
//! (step-up: otherwise the user signs in again).

use super::consent::{self, Membership};
use crate::accounts::{amr, second_factor};
use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::store::{SessionRecord, Store, StoreError};

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Step {
    /// Send the browser to the sign-in page, then back to the request.
    SignIn,
    /// Issue a code acting on this organization.
    Issue { organization_id: String },
    /// Show the consent page, offering these organizations (one when the
    /// request named it), with `preselected` chosen in the picker.
    AskConsent {
        memberships: Vec<Membership>,
        preselected: Option<String>,
    },
    /// Send this error to the client's redirect URI.
    Refuse(OAuthError),
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Approve { organization_id: String },
    Deny,
}

impl Answer {
    /// The consent form's `decision` and `organization` fields; `None` when
    /// the decision is neither `approve` nor `deny`.
    pub fn from_form(decision: &str, organization_id: &str) -> Option<Self> {
        match decision {
            "approve" => Some(Self::Approve {
                organization_id: organization_id.to_owned(),
            }),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// The next step of a validated authorization request, given the browser's
/// live session, if any.
pub async fn next_step(
    store: &dyn Store,
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    factors: Factors,
    now: i64,
) -> Step {
    let Some(session) = session.filter(|s| !needs_sign_in(request, s, now)) else {
        // OpenID Connect Core §3.1.2.6: prompt=none must not show a page.
        if request.prompt.none {
            return Step::Refuse(OAuthError::new(
                ErrorCode::LoginRequired,
                "the user is not signed in",
            ));
        }
        return Step::SignIn;
    };
    match asks_more_factors(store, request, session, factors).await {
        Ok(false) => {}
        Ok(true) => return Step::SignIn,
        Err(error) => return Step::Refuse(OAuthError::from(error)),
    }
    let step = choose(store, request, &session.user_id)
        .await
        .unwrap_or_else(|error| Step::Refuse(OAuthError::from(error)));
    step_up(store, request, session, step).await
}

/// What second factors this server offers (passkeys need a relying party).
#[derive(Debug, Clone, Copy)]
pub struct Factors {
    pub passkeys: bool,
}

/// OpenID Connect Core §3.1.2.1: `acr_values` asking for two factors
/// (`urn:latchkey:acr:2fa`) sends a one-factor session to sign in again,
/// and asking for `phr` sends a session that used no passkey — when the
/// user has what it takes, so that signing in again can meet it.
/// Otherwise, and with `prompt=none`, the request goes on and the ID
/// token's `acr` says what the session was (the claim is voluntary).
async fn asks_more_factors(
    store: &dyn Store,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    factors: Factors,
) -> Result<bool, StoreError> {
    if !request.wants_multi_factor || request.prompt.none || amr::is_phishing_resistant(&session.amr) {
        return Ok(false);
    }
    let methods = second_factor::methods(store, &session.user_id, factors.passkeys).await?;
    if request.wants_phishing_resistant && methods.contains(&second_factor::Method::Passkey) {
        return Ok(true);
    }
    Ok(!amr::is_multi_factor(&session.amr) && !methods.is_empty())
}

/// The organization rule "members must use a second factor": a code for
/// such an organization needs a session that used two factors; with a
/// one-factor session the user signs in again (both factors), or with
/// `prompt=none` the request is refused with `login_required`.
async fn step_up(
    store: &dyn Store,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    step: Step,
) -> Step {
    let Step::Issue { organization_id } = step else {
        return step;
    };
    if amr::is_multi_factor(&session.amr) {
        return Step::Issue { organization_id };
    }
    match store
        .organizations_requiring_second_factor(std::slice::from_ref(&organization_id))
        .await
    {
        Ok(required) if required.is_empty() => Step::Issue { organization_id },
        Ok(_) if request.prompt.none => Step::Refuse(OAuthError::new(
            ErrorCode::LoginRequired,
            "the organization requires a second factor, which this session did not use",
        )),
        Ok(_) => Step::SignIn,
        Err(error) => Step::Refuse(OAuthError::from(error)),
    }
}

/// OpenID Connect Core §3.1.2.1: `prompt=login` asks for a fresh sign-in,
/// and `max_age` bounds the time since the user last authenticated.
fn needs_sign_in(request: &AuthorizationRequest, session: &SessionRecord, now: i64) -> bool {
    request.prompt.login
        || request
            .max_age
            .is_some_and(|max_age| now - session.auth_time > max_age)
}

/// The organization and consent decision for a signed-in user.
async fn choose(
    store: &dyn Store,
    request: &AuthorizationRequest,
    user_id: &str,
) -> Result<Step, StoreError> {
    let memberships = consent::memberships(store, user_id).await?;
    if memberships.is_empty() {
        // A token must name an organization; this user has none to name.
        return Ok(Step::Refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user does not belong to any organization",
        )));
    }
    let consents = consent::remembered(store, user_id, &request.client.client_id).await?;
    let (offered, preselected) = match &request.organization_id {
        Some(named) => match memberships.into_iter().find(|m| m.organization.id == *named) {
            Some(membership) => (vec![membership], Some(named.clone())),
            None => {
                return Ok(Step::Refuse(OAuthError::invalid_request(
                    "organization_id is not an organization the user belongs to",
                )));
            }
        },
        None => {
            // The most recent consent in one of the user's organizations.
            let preselected = consents
                .iter()
                .find(|c| memberships.iter().any(|m| m.organization.id == c.organization_id))
                .map(|c| c.organization_id.clone());
            (memberships, preselected)
        }
    };
    // SPEC 6: consent is skipped when the user already granted this client,
    // in this organization, every requested scope (and every requested
    // resource, RFC 8707), unless prompt=consent.
    // With several organizations to choose from there is no "this
    // organization" until the user picks one.
    if let [only] = offered.as_slice()
        && !request.prompt.consent
    {
        let covered = consents
            .iter()
            .any(|c| c.organization_id == only.organization.id && request.scopes.is_subset(&c.scopes));
        if covered && consent::covers_resources(store, request, user_id, &only.organization.id).await? {
            return Ok(Step::Issue {
                organization_id: only.organization.id.clone(),
            });
        }
    }
    if request.prompt.none {
        return Ok(Step::Refuse(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not approved this request",
        )));
    }
    Ok(Step::AskConsent {
        memberships: offered,
        preselected,
    })
}

/// What the user's answer on the consent page leads to. An approval is
/// remembered for the chosen organization (which must be the one the
/// request named, if it named one) before the code is issued.
pub async fn answer(
    store: &dyn Store,
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    answer: Answer,
    now: i64,
) -> Step {
    let Some(session) = session else {
        return Step::SignIn;
    };
    let organization_id = match answer {
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        Answer::Deny => {
            return Step::Refuse(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            ));
        }
        Answer::Approve { organization_id } => organization_id,
    };
    if request
        .organization_id
        .as_ref()
        .is_some_and(|named| *named != organization_id)
    {
        return Step::Refuse(OAuthError::invalid_request(
            "the organization approved is not the one organization_id names",
        ));
    }
    match consent::approve(store, request, &session.user_id, &organization_id, now).await {
        Ok(true) => step_up(store, request, session, Step::Issue { organization_id }).await,
        Ok(false) => Step::Refuse(OAuthError::invalid_request(
            "the organization approved is not one the user belongs to",
        )),
        Err(error) => Step::Refuse(OAuthError::from(error)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::oauth::authorize::Prompt;
    use crate::oauth::scope::ScopeSet;
    use crate::secret::Secret;
    use crate::store::{ClientRecord, MembershipRecord, OrganizationRecord, UserRecord};

    const NOW: i64 = 1_800_000_000;
    const ACME: &str = "org-acme";
    const BIRCH: &str = "org-birch";
    const CLIENT: &str = "client_test";
    const FACTORS: Factors = Factors { passkeys: true };

    /// A migrated SQLite database in memory (one connection, so every
    /// query sees the same database) with two organizations, a user in
    /// both, a user in none, and a client.
    async fn store() -> Arc<dyn Store> {
        let mut settings = Config::default_config().unwrap().database;
        settings.url = Secret::new("sqlite::memory:");
        settings.max_connections = 1;
        let store = crate::store::open(&settings).await.unwrap();
        for (id, name) in [(ACME, "Acme Legal"), (BIRCH, "Birch & Partners")] {
            let organization = OrganizationRecord {
                id: id.into(),
                name: name.into(),
                created_at: NOW,
            };
            store.insert_organization(&organization).await.unwrap();
        }
        for id in ["alice", "nobody"] {
            let user = UserRecord {
                id: id.into(),
                email: format!("{id}@example.com"),
                name: id.into(),
                email_verified: true,
                password_hash: String::new(),
                created_at: NOW,
                updated_at: NOW,
            };
            store.insert_user(&user).await.unwrap();
        }
        for (offset, organization_id) in [ACME, BIRCH].into_iter().enumerate() {
            let membership = MembershipRecord {
                organization_id: organization_id.into(),
                user_id: "alice".into(),
                role: "ATTORNEY".into(),
                created_at: NOW + offset as i64,
            };
            store.upsert_membership(&membership).await.unwrap();
        }
        store.insert_client(&client()).await.unwrap();
        store
    }

    fn client() -> ClientRecord {
        ClientRecord {
            client_id: CLIENT.into(),
            secret_digest: None,
            name: "Test App".into(),
            description: String::new(),
            homepage_url: None,
            logo_url: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            allowed_scopes: vec!["openid".into(), "email".into()],
            token_endpoint_auth_method: "none".into(),
            organization_id: None,
            grant_types: crate::oauth::grant_type::GrantType::DEFAULT.to_vec(),
            id_token_signed_response_alg: None,
            enabled: true,
            created_at: NOW,
            updated_at: NOW,
            origin: Default::default(),
        }
    }

    fn request(scope: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            client: client(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: true,
            scopes: ScopeSet::parse(scope).unwrap(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            organization_id: None,
            resources: Vec::new(),
            wants_multi_factor: false,
            wants_phishing_resistant: false,
        }
    }

    fn session(user_id: &str, auth_time: i64) -> SessionRecord {
        SessionRecord {
            id_digest: Secret::new("ses_x").digest(),
            user_id: user_id.into(),
            auth_time,
            created_at: auth_time,
            expires_at: auth_time + 3600,
            user_agent: None,
            last_seen_at: None,
            amr: vec!["pwd".into()],
        }
    }

    async fn remove_from_birch(store: &dyn Store) {
        store.delete_membership(BIRCH, "alice").await.unwrap();
    }

    async fn consent_in(store: &dyn Store, organization_id: &str, scope: &str, at: i64) {
        let approve = Answer::Approve {
            organization_id: organization_id.into(),
        };
        let step = answer(store, &request(scope), Some(&session("alice", NOW)), approve, at).await;
        assert!(matches!(step, Step::Issue { .. }), "{step:?}");
    }

    fn offered(step: &Step) -> (Vec<&str>, Option<&str>) {
        match step {
            Step::AskConsent {
                memberships,
                preselected,
            } => (
                memberships.iter().map(|m| m.organization.id.as_str()).collect(),
                preselected.as_deref(),
            ),
            other => panic!("expected the consent page, got {other:?}"),
        }
    }

    fn refused(step: &Step) -> ErrorCode {
        match step {
            Step::Refuse(error) => error.code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_session_the_user_signs_in_unless_prompt_none() {
        let store = store().await;
        let mut request = request("openid");
        assert!(matches!(
            next_step(store.as_ref(), &request, None, FACTORS, NOW).await,
            Step::SignIn
        ));
        request.prompt.none = true;
        let step = next_step(store.as_ref(), &request, None, FACTORS, NOW).await;
        assert_eq!(refused(&step), ErrorCode::LoginRequired);
    }

    #[tokio::test]
    async fn prompt_login_and_an_exceeded_max_age_ask_for_a_fresh_sign_in() {
        let store = store().await;
        let signed_in = session("alice", NOW - 100);
        let mut request = request("openid");
        request.prompt.login = true;
        let step = next_step(store.as_ref(), &request, Some(&signed_in), FACTORS, NOW).await;
        assert!(matches!(step, Step::SignIn), "{step:?}");
        request.prompt.login = false;
        request.max_age = Some(99);
        let step = next_step(store.as_ref(), &request, Some(&signed_in), FACTORS, NOW).await;
        assert!(matches!(step, Step::SignIn), "{step:?}");
        request.max_age = Some(100);
        let step = next_step(store.as_ref(), &request, Some(&signed_in), FACTORS, NOW).await;
        assert!(matches!(step, Step::AskConsent { .. }), "{step:?}");
    }

    #[tokio::test]
    async fn a_user_in_no_organization_is_refused() {
        let store = store().await;
        let step = next_step(
            store.as_ref(),
            &request("openid"),
            Some(&session("nobody", NOW)),
            FACTORS,
            NOW,
        )
        .await;
        assert_eq!(refused(&step), ErrorCode::AccessDenied);
    }

    #[tokio::test]
    async fn one_organization_asks_once_then_remembers() {
        let store = store().await;
        remove_from_birch(store.as_ref()).await;
        let alice = session("alice", NOW);
        let step = next_step(store.as_ref(), &request("openid"), Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME], None));
        let mut quiet = request("openid");
        quiet.prompt.none = true;
        let step = next_step(store.as_ref(), &quiet, Some(&alice), FACTORS, NOW).await;
        assert_eq!(refused(&step), ErrorCode::ConsentRequired);

        consent_in(store.as_ref(), ACME, "openid", NOW).await;
        for request in [request("openid"), quiet] {
            let step = next_step(store.as_ref(), &request, Some(&alice), FACTORS, NOW).await;
            assert!(
                matches!(&step, Step::Issue { organization_id } if organization_id == ACME),
                "{step:?}"
            );
        }
        // A scope not granted yet, or prompt=consent, asks again.
        let step = next_step(
            store.as_ref(),
            &request("openid email"),
            Some(&alice),
            FACTORS,
            NOW,
        )
        .await;
        assert_eq!(offered(&step), (vec![ACME], Some(ACME)));
        let mut again = request("openid");
        again.prompt.consent = true;
        let step = next_step(store.as_ref(), &again, Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME], Some(ACME)));
    }

    #[tokio::test]
    async fn a_consent_covers_only_the_resources_it_was_given_for() {
        let store = store().await;
        let store = store.as_ref();
        remove_from_birch(store).await;
        let alice = session("alice", NOW);
        let asking = |resources: &[&str]| {
            let mut request = request("openid");
            request.resources = resources.iter().map(|r| (*r).to_owned()).collect();
            request
        };
        let approve = || Answer::Approve {
            organization_id: ACME.into(),
        };
        let (mcp, billing) = ("https://mcp.example.com", "https://billing.example.com");
        let step = answer(store, &asking(&[mcp]), Some(&alice), approve(), NOW).await;
        assert!(matches!(step, Step::Issue { .. }), "{step:?}");
        for covered in [asking(&[mcp]), asking(&[])] {
            let step = next_step(store, &covered, Some(&alice), FACTORS, NOW).await;
            assert!(matches!(step, Step::Issue { .. }), "{step:?}");
        }
        // Same scopes, another resource: the page again.
        let step = next_step(store, &asking(&[billing]), Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME], Some(ACME)));
        let step = answer(store, &asking(&[billing]), Some(&alice), approve(), NOW).await;
        assert!(matches!(step, Step::Issue { .. }), "{step:?}");
        let step = next_step(store, &asking(&[mcp, billing]), Some(&alice), FACTORS, NOW).await;
        assert!(matches!(step, Step::Issue { .. }), "{step:?}");
        assert_eq!(
            store.find_consent_resources("alice", ACME, CLIENT).await.unwrap(),
            [mcp, billing]
        );
    }

    #[tokio::test]
    async fn several_organizations_ask_every_time_preselecting_the_last_choice() {
        let store = store().await;
        let alice = session("alice", NOW);
        let step = next_step(store.as_ref(), &request("openid"), Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME, BIRCH], None));

        consent_in(store.as_ref(), BIRCH, "openid", NOW).await;
        let step = next_step(store.as_ref(), &request("openid"), Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME, BIRCH], Some(BIRCH)));
        consent_in(store.as_ref(), ACME, "openid", NOW + 10).await;
        let step = next_step(store.as_ref(), &request("openid"), Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME, BIRCH], Some(ACME)));

        // prompt=none cannot ask which organization.
        let mut quiet = request("openid");
        quiet.prompt.none = true;
        let step = next_step(store.as_ref(), &quiet, Some(&alice), FACTORS, NOW).await;
        assert_eq!(refused(&step), ErrorCode::ConsentRequired);
    }

    #[tokio::test]
    async fn a_named_organization_skips_the_choice_and_must_be_the_users() {
        let store = store().await;
        let alice = session("alice", NOW);
        consent_in(store.as_ref(), BIRCH, "openid", NOW).await;
        let mut named = request("openid");
        named.organization_id = Some(BIRCH.into());
        named.prompt.none = true;
        let step = next_step(store.as_ref(), &named, Some(&alice), FACTORS, NOW).await;
        assert!(
            matches!(&step, Step::Issue { organization_id } if organization_id == BIRCH),
            "{step:?}"
        );

        // Named but never consented: the page, for that organization only.
        named.organization_id = Some(ACME.into());
        named.prompt.none = false;
        let step = next_step(store.as_ref(), &named, Some(&alice), FACTORS, NOW).await;
        assert_eq!(offered(&step), (vec![ACME], Some(ACME)));

        named.organization_id = Some("org-elsewhere".into());
        let step = next_step(store.as_ref(), &named, Some(&alice), FACTORS, NOW).await;
        assert_eq!(refused(&step), ErrorCode::InvalidRequest);
    }

    #[tokio::test]
    async fn answers_deny_approve_and_refuse_other_organizations() {
        let store = store().await;
        let alice = session("alice", NOW);
        let store = store.as_ref();
        let step = answer(store, &request("openid"), None, Answer::Deny, NOW).await;
        assert!(matches!(step, Step::SignIn), "{step:?}");
        let step = answer(store, &request("openid"), Some(&alice), Answer::Deny, NOW).await;
        assert_eq!(refused(&step), ErrorCode::AccessDenied);

        let approve = |organization_id: &str| Answer::Approve {
            organization_id: organization_id.into(),
        };
        let step = answer(
            store,
            &request("openid"),
            Some(&alice),
            approve("org-elsewhere"),
            NOW,
        )
        .await;
        assert_eq!(refused(&step), ErrorCode::InvalidRequest);
        let mut named = request("openid");
        named.organization_id = Some(ACME.into());
        let step = answer(store, &named, Some(&alice), approve(BIRCH), NOW).await;
        assert_eq!(refused(&step), ErrorCode::InvalidRequest);
        assert!(
            store
                .find_consent("alice", BIRCH, CLIENT)
                .await
                .unwrap()
                .is_none()
        );

        let step = answer(store, &named, Some(&alice), approve(ACME), NOW).await;
        assert!(
            matches!(&step, Step::Issue { organization_id } if organization_id == ACME),
            "{step:?}"
        );
        assert_eq!(
            store.find_consent("alice", ACME, CLIENT).await.unwrap(),
            Some(vec!["openid".to_owned()])
        );
        assert_eq!(Answer::from_form("maybe", ACME), None);
    }

    /// `acr_values=phr` signs a session that used no passkey in again when
    /// the user has one (and passkeys are offered); a session that used
    /// one, or a user without one, goes on.
    #[tokio::test]
    async fn acr_values_phr_asks_for_the_passkey_the_user_has() {
        let store = store().await;
        let mut request = request("openid");
        request.wants_multi_factor = true;
        request.wants_phishing_resistant = true;
        let mut two_factors = session("alice", NOW);
        two_factors.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
        let step = next_step(store.as_ref(), &request, Some(&two_factors), FACTORS, NOW).await;
        assert!(!matches!(step, Step::SignIn), "no passkey to ask for");

        let passkey = crate::store::PasskeyRecord {
            credential_id: "alice-key".into(),
            user_id: "alice".into(),
            passkey: "{}".into(),
            name: "Key".into(),
            backup_eligible: false,
            backup_state: false,
            created_at: NOW,
            last_used_at: None,
        };
        store.insert_passkey(&passkey).await.unwrap();
        let step = next_step(store.as_ref(), &request, Some(&two_factors), FACTORS, NOW).await;
        assert!(matches!(step, Step::SignIn), "{step:?}");
        let offered_none = Factors { passkeys: false };
        let step = next_step(store.as_ref(), &request, Some(&two_factors), offered_none, NOW).await;
        assert!(!matches!(step, Step::SignIn), "passkeys are not offered here");

        let mut keyed = two_factors.clone();
        keyed.amr = vec!["pwd".into(), "hwk".into(), "mfa".into()];
        let step = next_step(store.as_ref(), &request, Some(&keyed), FACTORS, NOW).await;
        assert!(!matches!(step, Step::SignIn), "{step:?}");
        request.wants_phishing_resistant = false;
        let step = next_step(store.as_ref(), &request, Some(&two_factors), FACTORS, NOW).await;
        assert!(
            !matches!(step, Step::SignIn),
            "two factors were asked for and used"
        );
    }
}
