//! Initial access tokens (RFC 7591 §1.2, §3): when
//! `oauth.dynamic_client_registration` is `initial_access_token`, a client
//! registers only with one of these as its bearer token. The operator
//! issues them (admin API, CLI), optionally expiring or limited to a number
//! of registrations; each is shown once, stored as a digest, and revocable.

use super::ClientError;
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::secret::{Secret, generate_token};
use crate::store::{InitialAccessTokenRecord, Store};

const MAX_NAME: usize = 100;
/// Ten years, like the longest configurable lifetime.
const MAX_LIFETIME_SECONDS: i64 = 10 * 365 * 86_400;

fn invalid(field: &'static str, message: impl Into<String>) -> ClientError {
    ClientError::Invalid {
        field,
        message: message.into(),
    }
}

/// What a new initial access token allows.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub name: String,
    /// Seconds from now until it expires; `None` never.
    pub expires_in: Option<i64>,
    /// How many clients it may register; `None` any number.
    pub max_uses: Option<i64>,
}

/// Issues a token; the token itself exists only in the returned value.
pub async fn create(
    store: &dyn Store,
    config: &Config,
    new: NewToken,
    actor: &Actor,
    now: i64,
) -> Result<(InitialAccessTokenRecord, Secret), ClientError> {
    // Measured as sent: an over-long name is refused, not trimmed to fit.
    if new.name.chars().count() > MAX_NAME || new.name.trim().is_empty() {
        return Err(invalid(
            "name",
            format!("name must be 1 to {MAX_NAME} characters"),
        ));
    }
    if let Some(seconds) = new.expires_in
        && !(1..=MAX_LIFETIME_SECONDS).contains(&seconds)
    {
        return Err(invalid(
            "expiresInSeconds",
            format!("expiresInSeconds must be from 1 to {MAX_LIFETIME_SECONDS} (ten years)"),
        ));
    }
    if new.max_uses.is_some_and(|uses| uses < 1) {
        return Err(invalid("maxUses", "maxUses must be at least 1"));
    }
    let token = generate_token(&config.prefixes.initial_access_token);
    let record = InitialAccessTokenRecord {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.trim().to_owned(),
        token_digest: token.digest(),
        created_at: now,
        expires_at: new.expires_in.map(|seconds| now + seconds),
        max_uses: new.max_uses,
        uses: 0,
        revoked_at: None,
    };
    store.insert_initial_access_token(&record).await?;
    audit::record(
        store,
        actor,
        "initial_access_token.created",
        audit::Subject::default(),
        serde_json::json!({"initialAccessTokenId": record.id, "expiresAt": record.expires_at, "maxUses": record.max_uses}),
        now,
    )
    .await;
    Ok((record, token))
}

/// Revokes a token; registrations made with it stay.
pub async fn revoke(store: &dyn Store, id: &str, actor: &Actor, now: i64) -> Result<(), ClientError> {
    if !store.revoke_initial_access_token(id, now).await? {
        return Err(ClientError::NotFound(format!(
            "no unrevoked initial access token has the id `{id}`"
        )));
    }
    audit::record(
        store,
        actor,
        "initial_access_token.revoked",
        audit::Subject::default(),
        serde_json::json!({"initialAccessTokenId": id}),
        now,
    )
    .await;
    Ok(())
}

/// The usable initial access token a registration presents as its bearer
/// token; `invalid_token` (401) saying why otherwise. The registration
/// itself counts the use, atomically with storing the client.
pub async fn check(
    store: &dyn Store,
    bearer: Option<&str>,
    now: i64,
) -> Result<InitialAccessTokenRecord, OAuthError> {
    let refuse = |description: &str| OAuthError::new(ErrorCode::InvalidToken, description);
    let Some(presented) = bearer else {
        return Err(refuse(
            "this server registers clients only with an initial access token: send it as Authorization: Bearer",
        ));
    };
    let Some(token) = store
        .find_initial_access_token(&Secret::new(presented).digest())
        .await?
    else {
        return Err(refuse("the initial access token is not valid"));
    };
    if token.revoked_at.is_some() {
        return Err(refuse("the initial access token has been revoked"));
    }
    if token.expires_at.is_some_and(|expires| expires <= now) {
        return Err(refuse("the initial access token has expired"));
    }
    if !token.is_usable(now) {
        return Err(refuse(
            "the initial access token has been used for as many registrations as it allows",
        ));
    }
    Ok(token)
}
