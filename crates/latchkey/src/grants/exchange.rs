//! The token endpoint's grant types: the authorization code exchange
//! (RFC 6749 §4.1.3, RFC 7636 §4.6) and the refresh (RFC 6749 §6) — each
//! validated against what the code or token is bound to, then committed in
//! one storage transaction, then signed.

use crate::config::{Config, RefreshTokenPolicy, seconds};
use crate::keys::{Alg, KeyRing};
use crate::metrics::Metrics;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::pkce::{self, ChallengeMethod};
use crate::oauth::resource::{self, Granted, Target};
use crate::oauth::scope::ScopeSet;
use crate::oauth::token::TokenResponse;
use crate::secret::{Secret, generate_token};
use crate::store::{ClientRecord, CodeExchange, GrantRecord, RefreshContext, RefreshTokenRecord, Store};

use super::tokens::{self, IdTokenContext, Subject};
use crate::audit::{self, Actor};

/// The presented authorization code grant.
#[derive(Debug, Clone, Copy)]
pub struct CodeGrant<'a> {
    pub code: &'a Secret,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a Secret>,
    /// The `resource` values of the token request (RFC 8707 §2.2).
    pub resources: &'a [String],
}

/// The presented refresh token grant, with the scope it may narrow to.
#[derive(Debug, Clone, Copy)]
pub struct RefreshGrant<'a> {
    pub refresh_token: &'a Secret,
    pub scope: Option<&'a str>,
    /// The `resource` values of the token request (RFC 8707 §2.2).
    pub resources: &'a [String],
}

/// Whether a grant with these scopes gets a refresh token.
fn issues_refresh_token(config: &Config, scopes: &ScopeSet) -> bool {
    match config.tokens.refresh_tokens {
        RefreshTokenPolicy::Always => true,
        RefreshTokenPolicy::OfflineAccess => scopes.contains("offline_access"),
    }
}

fn new_refresh_token(
    config: &Config,
    grant_id: &str,
    client_id: &str,
    scopes: &ScopeSet,
    expires_at: i64,
    now: i64,
) -> (Secret, RefreshTokenRecord) {
    let token = generate_token(&config.prefixes.refresh_token);
    let record = RefreshTokenRecord {
        token_digest: token.digest(),
        grant_id: grant_id.to_owned(),
        client_id: client_id.to_owned(),
        scopes: scopes.to_vec(),
        created_at: now,
        expires_at,
        used_at: None,
    };
    (token, record)
}

/// Exchanges an authorization code for tokens; a replayed code is counted
/// in `metrics`.
pub async fn authorization_code(
    store: &dyn Store,
    config: &Config,
    ring: &KeyRing,
    metrics: &Metrics,
    client: &ClientRecord,
    grant: CodeGrant<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let digest = grant.code.digest();
    let code = store
        .find_authorization_code(&digest)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("authorization code is invalid"))?;
    // RFC 6749 §4.1.3: ensure the code was issued to the authenticated client.
    if code.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if code.consumed_at.is_some() {
        return Err(code_replayed(store, metrics, client, code.grant_id.as_deref(), now).await);
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("authorization code has expired"));
    }
    // RFC 6749 §4.1.3: redirect_uri must be identical when the authorization
    // request included it.
    match grant.redirect_uri {
        Some(uri) if uri != code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the one in the authorization request",
            ));
        }
        None if code.redirect_uri_given => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required: the authorization request included it",
            ));
        }
        _ => {}
    }
    verify_pkce(
        &code.code_challenge,
        &code.code_challenge_method,
        grant.code_verifier,
    )?;

    let scopes = ScopeSet::from_tokens(&code.scopes).map_err(OAuthError::server_error)?;
    // RFC 8707 §2.2: the one of the code's resources this token is for.
    let target = resource::for_token(
        config,
        Granted::Grant(&code.resources),
        &values(grant.resources),
        &scopes,
    )?;
    let subject = Subject::load(store, &code.user_id, &code.organization_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user or organization of this code no longer exists"))?;
    let grant_record = GrantRecord {
        id: tokens::new_grant_id(),
        client_id: client.client_id.clone(),
        user_id: code.user_id.clone(),
        organization_id: code.organization_id.clone(),
        scopes: code.scopes.clone(),
        resources: code.resources.clone(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        created_at: now,
        revoked_at: None,
    };
    let refresh = issues_refresh_token(config, &scopes).then(|| {
        let expires_at = now + seconds(config.tokens.refresh_token_ttl);
        new_refresh_token(
            config,
            &grant_record.id,
            &client.client_id,
            &scopes,
            expires_at,
            now,
        )
    });
    match store
        .exchange_authorization_code(&digest, &grant_record, refresh.as_ref().map(|(_, r)| r), now)
        .await?
    {
        CodeExchange::Exchanged => {}
        CodeExchange::AlreadyConsumed { grant_id } => {
            return Err(code_replayed(store, metrics, client, grant_id.as_deref(), now).await);
        }
    }
    audit::record(
        store,
        &Actor::Client(client.client_id.clone()),
        "grant.created",
        audit::Subject {
            client_id: Some(&client.client_id),
            user_id: Some(&grant_record.user_id),
            organization_id: Some(&grant_record.organization_id),
            grant_id: Some(&grant_record.id),
        },
        serde_json::json!({"scopes": grant_record.scopes}),
        now,
    )
    .await;
    respond(
        config,
        ring,
        &subject,
        Minting {
            client_id: &client.client_id,
            scopes: &scopes,
            target: &target,
            grant_id: &grant_record.id,
            auth_time: code.auth_time,
            amr: &code.amr,
            nonce: code.nonce.as_deref(),
            id_token: scopes.contains("openid"),
            id_token_alg: id_token_alg(config, client),
        },
        refresh.map(|(token, _)| token),
        now,
    )
}

/// RFC 6749 §4.1.2: a code used twice revokes every token issued from its
/// first use.
async fn code_replayed(
    store: &dyn Store,
    metrics: &Metrics,
    client: &ClientRecord,
    grant_id: Option<&str>,
    now: i64,
) -> OAuthError {
    metrics.authorization_code_replayed();
    if let Some(grant_id) = grant_id {
        match store.revoke_grant(grant_id, now).await {
            Ok(_) => {
                let subject = audit::Subject {
                    client_id: Some(&client.client_id),
                    grant_id: Some(grant_id),
                    ..Default::default()
                };
                audit::record(
                    store,
                    &Actor::System,
                    "code.replayed",
                    subject,
                    serde_json::json!({"grant": "revoked"}),
                    now,
                )
                .await;
            }
            Err(error) => return OAuthError::from(error),
        }
    }
    OAuthError::invalid_grant("authorization code has already been used")
}

/// How a second presentation of a rotated refresh token is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Within the grace window: the client retrying a refresh whose answer
    /// it lost, or racing itself. It gets fresh tokens; the grant lives on.
    Retry,
    /// Outside it: one of two parties holds a stolen copy.
    Theft,
}

/// RFC 9700 §4.14.2: a rotated refresh token presented again means theft,
/// unless it comes back within the client's grace window of its rotation
/// (`used_at`): `tokens.public_client_refresh_token_grace_seconds` for a
/// public client, `tokens.refresh_token_grace_seconds` for a confidential
/// one. A grace of 0 makes every reuse theft.
pub fn judge_reuse(config: &Config, client: &ClientRecord, used_at: i64, now: i64) -> Reuse {
    let grace = seconds(if client.secret_digest.is_none() {
        config.tokens.public_client_refresh_token_grace
    } else {
        config.tokens.refresh_token_grace
    });
    if grace > 0 && now - used_at <= grace {
        Reuse::Retry
    } else {
        Reuse::Theft
    }
}

/// Revokes the whole grant of a refresh token presented again outside its
/// grace window (RFC 9700 §4.14.2) and records the replay, with the
/// grant's user and organization when the grant is still there (the
/// client's page lists these); returns what the client is told.
async fn refresh_replayed(
    store: &dyn Store,
    metrics: &Metrics,
    client: &ClientRecord,
    token: &RefreshTokenRecord,
    grant: Option<&GrantRecord>,
    now: i64,
) -> OAuthError {
    metrics.refresh_token_replayed();
    if let Err(error) = store.revoke_grant(&token.grant_id, now).await {
        return error.into();
    }
    let subject = audit::Subject {
        user_id: grant.map(|g| g.user_id.as_str()),
        organization_id: grant.map(|g| g.organization_id.as_str()),
        ..refresh_subject(client, token)
    };
    audit::record(
        store,
        &Actor::System,
        "refresh_token.replayed",
        subject,
        serde_json::json!({"grant": "revoked"}),
        now,
    )
    .await;
    OAuthError::invalid_grant("refresh token has already been used")
}

/// What a refresh-token audit event is about.
fn refresh_subject<'a>(client: &'a ClientRecord, token: &'a RefreshTokenRecord) -> audit::Subject<'a> {
    audit::Subject {
        client_id: Some(&client.client_id),
        grant_id: Some(&token.grant_id),
        ..Default::default()
    }
}

/// Records a rotated refresh token answered as a retry inside the grace
/// window, so a replay the window let through still leaves a trace.
async fn refresh_retried(
    store: &dyn Store,
    client: &ClientRecord,
    token: &RefreshTokenRecord,
    used_at: i64,
    now: i64,
) {
    let subject = refresh_subject(client, token);
    audit::record(
        store,
        &Actor::Client(client.client_id.clone()),
        "refresh_token.retried",
        subject,
        serde_json::json!({"seconds_since_rotation": now - used_at}),
        now,
    )
    .await;
}

/// RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is
/// refused too, so PKCE cannot be stripped or injected.
fn verify_pkce(
    challenge: &Option<String>,
    method: &Option<String>,
    verifier: Option<&Secret>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier was sent but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "code_verifier is required: the authorization request used PKCE",
        )),
        (Some(challenge), Some(verifier)) => {
            let verifier = verifier.expose();
            if !pkce::is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_request(
                    "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'",
                ));
            }
            let method = method
                .as_deref()
                .and_then(ChallengeMethod::parse)
                .unwrap_or(ChallengeMethod::Plain);
            if pkce::verify(method, challenge, verifier) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// Exchanges a refresh token: the presented token is consumed and a new
/// one with the same scopes and expiry returned (rotation; the lifetime is
/// absolute, counted from the code exchange); the access token may carry a
/// narrower `scope`. A token already rotated is judged by [`judge_reuse`]:
/// a retry gets an answer of the same kind as the first use (a new access
/// token and a new single-use refresh token, same scopes, same expiry),
/// theft revokes the grant (and is counted in `metrics`). A revoked grant
/// is refused either way. The answer carries an ID token only under
/// `tokens.id_token_on_refresh`.
pub async fn refresh_token(
    store: &dyn Store,
    config: &Config,
    ring: &KeyRing,
    metrics: &Metrics,
    client: &ClientRecord,
    grant: RefreshGrant<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let RefreshGrant {
        refresh_token: presented,
        scope,
        resources,
    } = grant;
    let digest = presented.digest();
    // The token, its grant and the grant's subject, read at one moment.
    let RefreshContext {
        token,
        grant,
        subject,
    } = store
        .find_refresh_context(&digest)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("refresh token is invalid"))?;
    if token.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    let mut retried_after = match token.used_at {
        None => None,
        Some(used_at) => match judge_reuse(config, client, used_at, now) {
            Reuse::Retry => Some(used_at),
            Reuse::Theft => {
                return Err(refresh_replayed(store, metrics, client, &token, grant.as_ref(), now).await);
            }
        },
    };
    if token.expires_at <= now {
        return Err(OAuthError::invalid_grant("refresh token has expired"));
    }
    let grant = match grant {
        Some(grant) if grant.revoked_at.is_none() => grant,
        _ => return Err(OAuthError::invalid_grant("refresh token has been revoked")),
    };
    let granted = ScopeSet::from_tokens(&token.scopes).map_err(OAuthError::server_error)?;
    let scopes = narrowed_scope(&granted, scope)?;
    // RFC 8707 §2.2: a refresh may narrow to one of the granted resources.
    let target = resource::for_token(
        config,
        Granted::Grant(&grant.resources),
        &values(resources),
        &scopes,
    )?;
    let subject = subject.map(Subject::from).ok_or_else(|| {
        OAuthError::invalid_grant("the user or organization of this grant no longer exists")
    })?;
    let (successor, record) = new_refresh_token(
        config,
        &grant.id,
        &client.client_id,
        &granted,
        token.expires_at,
        now,
    );
    if retried_after.is_none() && !store.rotate_refresh_token(&digest, &record, now).await? {
        // Another request rotated the token since it was read: this one is
        // a second presentation too, judged by when that rotation happened.
        let current = store
            .find_refresh_token(&digest)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("refresh token has been revoked"))?;
        let used_at = current.used_at.unwrap_or(now);
        match judge_reuse(config, client, used_at, now) {
            Reuse::Retry => retried_after = Some(used_at),
            Reuse::Theft => {
                return Err(refresh_replayed(store, metrics, client, &current, Some(&grant), now).await);
            }
        }
    }
    if let Some(used_at) = retried_after {
        // The rotated token stays rotated; the retry gets its own successor.
        store.insert_refresh_token(&record).await?;
        refresh_retried(store, client, &token, used_at, now).await;
    }
    respond(
        config,
        ring,
        &subject,
        Minting {
            client_id: &client.client_id,
            scopes: &scopes,
            target: &target,
            grant_id: &grant.id,
            auth_time: grant.auth_time,
            amr: &grant.amr,
            nonce: None,
            // OpenID Connect Core §12.2: a refresh response may carry an
            // ID token; it does when the operator asks for one.
            id_token: config.tokens.id_token_on_refresh && scopes.contains("openid"),
            id_token_alg: id_token_alg(config, client),
        },
        Some(successor),
        now,
    )
}

/// RFC 6749 §6: the scope of a refresh may only narrow what was granted;
/// without one, or with an empty one, the whole grant is meant.
fn narrowed_scope(granted: &ScopeSet, requested: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let Some(text) = requested else {
        return Ok(granted.clone());
    };
    let requested = ScopeSet::parse(text)
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, format!("scope is malformed: {e}")))?;
    if let Some(extra) = requested.missing_from(granted).next() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope `{extra}` was not granted; a refresh can only narrow the scope"),
        ));
    }
    if requested.is_empty() {
        Ok(granted.clone())
    } else {
        Ok(requested)
    }
}

/// The `resource` values as the rules take them.
fn values(resources: &[String]) -> Vec<&str> {
    resources.iter().map(String::as_str).collect()
}

/// What the minted tokens say.
struct Minting<'a> {
    client_id: &'a str,
    /// The scopes of the grant (or of the refresh's narrowing): the ID
    /// token's.
    scopes: &'a ScopeSet,
    /// The access token's audience and scopes.
    target: &'a Target,
    grant_id: &'a str,
    auth_time: i64,
    amr: &'a [String],
    nonce: Option<&'a str>,
    /// Whether the response carries an ID token.
    id_token: bool,
    /// What the ID token is signed with.
    id_token_alg: Alg,
}

/// OpenID Connect Dynamic Client Registration §2: the client's
/// `id_token_signed_response_alg`, or the configured algorithm.
fn id_token_alg(config: &Config, client: &ClientRecord) -> Alg {
    client
        .id_token_signed_response_alg
        .unwrap_or(config.tokens.signing_alg)
}

fn respond(
    config: &Config,
    ring: &KeyRing,
    subject: &Subject,
    minting: Minting<'_>,
    refresh_token: Option<Secret>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let access_token = Secret::new(tokens::access_token(
        config,
        ring,
        subject,
        minting.client_id,
        minting.target,
        minting.grant_id,
        now,
    )?);
    let id_token = if minting.id_token {
        let context = IdTokenContext {
            client_id: minting.client_id,
            scopes: minting.scopes,
            auth_time: minting.auth_time,
            amr: minting.amr,
            nonce: minting.nonce,
            access_token: &access_token,
            alg: minting.id_token_alg,
        };
        Some(Secret::new(tokens::id_token(
            config, ring, subject, context, now,
        )?))
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: seconds(config.tokens.access_token_ttl),
        refresh_token,
        scope: config.scope_string(&minting.target.scopes),
        id_token,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn with_grace(grace: u64) -> Config {
        let mut config = Config::default_config().unwrap();
        config.tokens.refresh_token_grace = Duration::from_secs(grace);
        config
    }

    fn client(confidential: bool) -> ClientRecord {
        ClientRecord {
            client_id: "client_1".into(),
            secret_digest: confidential.then(|| crate::secret::TokenDigest::of("s")),
            name: "App".into(),
            description: String::new(),
            homepage_url: None,
            logo_url: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            allowed_scopes: vec!["openid".into()],
            token_endpoint_auth_method: if confidential {
                "client_secret_basic"
            } else {
                "none"
            }
            .into(),
            organization_id: None,
            grant_types: crate::oauth::grant_type::GrantType::DEFAULT.to_vec(),
            id_token_signed_response_alg: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
            origin: crate::store::ClientOrigin::Operator,
        }
    }

    /// A confidential client, judged by `tokens.refresh_token_grace_seconds`.
    fn judge_reuse(config: &Config, used_at: i64, now: i64) -> Reuse {
        super::judge_reuse(config, &client(true), used_at, now)
    }

    #[test]
    fn by_default_every_reuse_is_theft() {
        let config = Config::default_config().unwrap();
        assert_eq!(judge_reuse(&config, 1_000, 1_000), Reuse::Theft);
    }

    #[test]
    fn public_clients_have_their_own_window_thirty_seconds_by_default() {
        let mut config = Config::default_config().unwrap();
        let public = client(false);
        assert_eq!(super::judge_reuse(&config, &public, 1_000, 1_030), Reuse::Retry);
        assert_eq!(super::judge_reuse(&config, &public, 1_000, 1_031), Reuse::Theft);
        config.tokens.public_client_refresh_token_grace = Duration::ZERO;
        config.tokens.refresh_token_grace = Duration::from_secs(60);
        assert_eq!(super::judge_reuse(&config, &public, 1_000, 1_000), Reuse::Theft);
        assert_eq!(judge_reuse(&config, 1_000, 1_060), Reuse::Retry);
    }

    #[test]
    fn reuse_within_a_thirty_second_window_is_a_retry() {
        let config = with_grace(30);
        assert_eq!(judge_reuse(&config, 1_000, 1_000), Reuse::Retry);
        assert_eq!(judge_reuse(&config, 1_000, 1_030), Reuse::Retry);
        assert_eq!(judge_reuse(&config, 1_000, 1_031), Reuse::Theft);
    }

    #[test]
    fn without_a_window_every_reuse_is_theft() {
        let config = with_grace(0);
        assert_eq!(judge_reuse(&config, 1_000, 1_000), Reuse::Theft);
        assert_eq!(judge_reuse(&config, 1_000, 1_001), Reuse::Theft);
    }

    #[test]
    fn the_window_follows_the_configuration() {
        let config = with_grace(1);
        assert_eq!(judge_reuse(&config, 1_000, 1_001), Reuse::Retry);
        assert_eq!(judge_reuse(&config, 1_000, 1_002), Reuse::Theft);
    }
}
