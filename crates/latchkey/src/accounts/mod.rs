//! Accounts: users (email unique case-insensitively, argon2id password),
//! organizations (the tenants) and memberships with free-text roles, plus
//! the admin API keys operators create. The admin API, the CLI and the demo
//! seeding all go through these functions.

use crate::secret::{Secret, TokenDigest, generate_identifier, generate_token};
use crate::store::{AdminKeyRecord, MembershipRecord, OrganizationRecord, Store, StoreError, UserRecord};

pub mod amr;
pub mod api_keys;
pub mod change_password;
pub mod email_links;
pub mod hash_formats;
pub mod import;
pub mod passkeys;
pub mod password;
pub mod pending_sign_in;
pub mod second_factor;
pub mod sessions;
pub mod throttle;
pub mod user_agent;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input that breaks a rule; `field` uses the admin API's field name.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("password hashing failed")]
    Hashing,
    /// The password workers are saturated: retry shortly.
    #[error("password hashing is at capacity")]
    HashingBusy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

/// A new user as an operator describes them.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: Secret,
    pub email_verified: bool,
}

/// The longest email address (RFC 5321 §4.5.3.1.3 less the angle brackets).
const MAX_EMAIL_CHARS: usize = 254;

pub(crate) fn validate_email(email: &str) -> Result<String, AccountError> {
    // The limit applies to what was sent, before trimming, as the admin
    // API's schema (`maxLength`) says.
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(invalid(
            "email",
            format!("email must be at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let email = email.trim();
    let well_formed = !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !well_formed {
        return Err(invalid("email", format!("`{email}` is not an email address")));
    }
    Ok(email.to_owned())
}

pub(crate) fn validate_password(password: &Secret) -> Result<(), AccountError> {
    let chars = password.expose().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Err(invalid(
            "password",
            format!("password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The longest user or organization name.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest membership role or admin key name.
pub const MAX_LABEL_CHARS: usize = 100;

/// A required one-line text: at most `max` characters as sent — an
/// over-long value is refused, never trimmed into shape — then trimmed,
/// and not empty.
pub(crate) fn validate_label(field: &'static str, value: &str, max: usize) -> Result<String, AccountError> {
    if value.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    Ok(value.to_owned())
}

/// Creates a user; the email must not be taken (case-insensitively).
pub async fn create_user(
    store: &dyn Store,
    passwords: &password::Passwords,
    new: NewUser,
    now: i64,
) -> Result<UserRecord, AccountError> {
    let email = validate_email(&new.email)?;
    let name = validate_label("name", &new.name, MAX_NAME_CHARS)?;
    validate_password(&new.password)?;
    if store.find_user_by_email(&email).await?.is_some() {
        return Err(AccountError::Conflict(format!(
            "a user with the email `{email}` exists"
        )));
    }
    let password_hash = passwords.hash(new.password).await.map_err(|error| match error {
        password::HashError::Busy => AccountError::HashingBusy,
        password::HashError::Failed => AccountError::Hashing,
    })?;
    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email,
        name,
        email_verified: new.email_verified,
        password_hash,
        created_at: now,
        updated_at: now,
    };
    match store.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict) => Err(AccountError::Conflict(format!(
            "a user with the email `{}` exists",
            user.email
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn find_user(store: &dyn Store, id: &str) -> Result<UserRecord, AccountError> {
    store
        .find_user(id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("no user has the id `{id}`")))
}

pub async fn delete_user(store: &dyn Store, id: &str) -> Result<(), AccountError> {
    if store.delete_user(id).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound(format!("no user has the id `{id}`")))
    }
}

pub async fn create_organization(
    store: &dyn Store,
    name: &str,
    now: i64,
) -> Result<OrganizationRecord, AccountError> {
    let organization = OrganizationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: validate_label("name", name, MAX_NAME_CHARS)?,
        created_at: now,
    };
    store.insert_organization(&organization).await?;
    Ok(organization)
}

pub async fn find_organization(store: &dyn Store, id: &str) -> Result<OrganizationRecord, AccountError> {
    store
        .find_organization(id)
        .await?
        .ok_or_else(|| AccountError::NotFound(format!("no organization has the id `{id}`")))
}

pub async fn delete_organization(store: &dyn Store, id: &str) -> Result<(), AccountError> {
    if store.delete_organization(id).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound(format!(
            "no organization has the id `{id}`"
        )))
    }
}

/// Makes `user_id` a member of `organization_id` with `role`, or changes
/// the role of an existing membership.
pub async fn set_membership(
    store: &dyn Store,
    organization_id: &str,
    user_id: &str,
    role: &str,
    now: i64,
) -> Result<MembershipRecord, AccountError> {
    let role = validate_label("role", role, MAX_LABEL_CHARS)?;
    find_organization(store, organization_id).await?;
    find_user(store, user_id).await?;
    let membership = MembershipRecord {
        organization_id: organization_id.to_owned(),
        user_id: user_id.to_owned(),
        role,
        created_at: now,
    };
    match store.upsert_membership(&membership).await {
        Ok(()) => Ok(membership),
        Err(StoreError::MissingReference) => Err(AccountError::NotFound(format!(
            "organization `{organization_id}` or user `{user_id}` no longer exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn remove_membership(
    store: &dyn Store,
    organization_id: &str,
    user_id: &str,
) -> Result<(), AccountError> {
    if store.delete_membership(organization_id, user_id).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound(format!(
            "user `{user_id}` is not a member of organization `{organization_id}`"
        )))
    }
}

/// Creates an admin API key; the key exists only in the returned value.
pub async fn create_admin_key(
    store: &dyn Store,
    prefix: &str,
    name: &str,
    now: i64,
) -> Result<(AdminKeyRecord, Secret), AccountError> {
    let key = generate_token(prefix);
    let record = AdminKeyRecord {
        id: generate_identifier("ak_"),
        name: validate_label("name", name, MAX_LABEL_CHARS)?,
        key_digest: key.digest(),
        created_at: now,
    };
    store.insert_admin_key(&record).await?;
    Ok((record, key))
}

pub async fn revoke_admin_key(store: &dyn Store, id: &str) -> Result<(), AccountError> {
    if store.delete_admin_key(id).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound(format!(
            "no admin API key has the id `{id}`"
        )))
    }
}

/// Whether `presented` is an admin API key: one from configuration
/// (compared in constant time, every key checked) or one created through the
/// CLI (looked up by digest).
pub async fn is_admin_key(
    store: &dyn Store,
    configured: &[Secret],
    presented: &str,
) -> Result<bool, StoreError> {
    let digest = TokenDigest::of(presented);
    let configured_match = configured
        .iter()
        .fold(false, |found, key| key.digest().matches(&digest) | found);
    if configured_match {
        return Ok(true);
    }
    Ok(store.find_admin_key(&digest).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_must_have_one_at_sign_with_text_around_it() {
        assert!(validate_email("alice@example.com").is_ok());
        for bad in ["alice", "@example.com", "alice@", "a b@example.com", "a@b@c"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_of_users_shows_no_password_or_hash() {
        let new = NewUser {
            email: "a@example.com".into(),
            name: "A".into(),
            password: Secret::new("correct horse sEcReT"),
            email_verified: true,
        };
        let record = crate::store::UserRecord {
            id: "u1".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            email_verified: true,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$sEcReT$sEcReT".into(),
            created_at: 0,
            updated_at: 0,
        };
        for printed in [format!("{new:?}"), format!("{record:?}")] {
            assert!(printed.contains("a@example.com"), "{printed}");
            assert!(!printed.contains("sEcReT"), "{printed}");
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password(&Secret::new("short")).is_err());
        assert!(validate_password(&Secret::new("correct horse battery staple")).is_ok());
    }
}
