//! Users who arrive from another system with the password hash they have
//! there (the admin API's `passwordHash`, the CLI's `users import`), and
//! their organizations. Nothing is hashed here: the hash is checked for
//! format and cost bounds ([`super::hash_formats`]) and stored as it is;
//! the first successful sign-in replaces it with argon2id
//! ([`super::sessions::check_credentials`]). Each user is written in one
//! transaction with the organizations it names that do not exist yet and
//! its memberships, so a refused user leaves nothing behind.
//!
//! A user whose email exists is not changed: the caller learns which user
//! has it ([`Imported::Exists`]) and decides (the admin API answers 409,
//! the CLI reports the line as skipped).

use std::collections::HashMap;

use super::{
    AccountError, MAX_LABEL_CHARS, MAX_NAME_CHARS, hash_formats, invalid, validate_email, validate_label,
};
use crate::secret::Secret;
use crate::store::{MembershipRecord, OrganizationRecord, Store, StoreError, UserRecord};

/// The longest password hash accepted, in bytes.
pub const MAX_HASH_BYTES: usize = 512;

/// An organization as an import names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationRef {
    /// Must exist.
    Id(String),
    /// Created when no organization has this name.
    Name(String),
}

/// A membership of an imported user.
#[derive(Debug, Clone)]
pub struct ImportedMembership {
    pub organization: OrganizationRef,
    pub role: String,
}

/// A user as an import describes them.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// `None`: the user cannot sign in with a password until one is set.
    pub password_hash: Option<Secret>,
    pub organizations: Vec<ImportedMembership>,
}

/// What became of an imported user.
#[derive(Debug)]
pub enum Imported {
    /// Created, with the organizations created for it (by name).
    Created {
        user: UserRecord,
        new_organizations: Vec<OrganizationRecord>,
    },
    /// The email was taken already, by this user; nothing changed.
    Exists(UserRecord),
}

/// The organizations by name, read once per import (on the first name
/// looked up) and kept up to date with those the import creates.
#[derive(Debug, Default)]
pub struct Directory {
    by_name: Option<HashMap<String, Vec<String>>>,
}

impl Directory {
    async fn ids_named(&mut self, store: &dyn Store, name: &str) -> Result<&[String], StoreError> {
        if self.by_name.is_none() {
            let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
            for organization in store.list_organizations().await? {
                by_name
                    .entry(organization.name)
                    .or_default()
                    .push(organization.id);
            }
            self.by_name = Some(by_name);
        }
        Ok(self
            .by_name
            .as_ref()
            .and_then(|by_name| by_name.get(name))
            .map_or(&[], Vec::as_slice))
    }

    fn add(&mut self, organization: &OrganizationRecord) {
        if let Some(by_name) = &mut self.by_name {
            by_name
                .entry(organization.name.clone())
                .or_default()
                .push(organization.id.clone());
        }
    }
}

/// How a new user's password is given: in plain text (hashed here) or as
/// a hash made elsewhere.
#[derive(Debug)]
pub enum Credential {
    Password(Secret),
    Hash(Secret),
}

/// The one credential of a new user: a password or a password hash, not
/// both, not neither.
pub fn credential(
    password: Option<Secret>,
    password_hash: Option<Secret>,
) -> Result<Credential, AccountError> {
    match (password, password_hash) {
        (Some(password), None) => Ok(Credential::Password(password)),
        (None, Some(hash)) => Ok(Credential::Hash(hash)),
        (Some(_), Some(_)) => Err(invalid(
            "passwordHash",
            "give either password or passwordHash, not both",
        )),
        (None, None) => Err(invalid(
            "password",
            "password is required (or passwordHash, a hash made elsewhere)",
        )),
    }
}

/// Checks a password hash brought from elsewhere: its format and bounds.
pub fn validate_hash(hash: &Secret) -> Result<hash_formats::Algorithm, AccountError> {
    if hash.expose().len() > MAX_HASH_BYTES {
        return Err(invalid(
            "passwordHash",
            format!("passwordHash must be at most {MAX_HASH_BYTES} bytes"),
        ));
    }
    hash_formats::check(hash.expose())
        .map_err(|error| invalid("passwordHash", format!("passwordHash: {error}")))
}

/// Creates `new` with its hash as it is, the organizations it names by a
/// name no organization has, and its memberships, in one transaction.
pub async fn import_user(
    store: &dyn Store,
    directory: &mut Directory,
    new: ImportedUser,
    now: i64,
) -> Result<Imported, AccountError> {
    let email = validate_email(&new.email)?;
    let name = validate_label("name", &new.name, MAX_NAME_CHARS)?;
    if let Some(hash) = &new.password_hash {
        validate_hash(hash)?;
    }
    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email,
        name,
        email_verified: new.email_verified,
        password_hash: new
            .password_hash
            .map(|h| h.expose().to_owned())
            .unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    let mut new_organizations: Vec<OrganizationRecord> = Vec::new();
    let mut memberships: Vec<MembershipRecord> = Vec::new();
    for (index, membership) in new.organizations.iter().enumerate() {
        let field = |message: String| invalid("organizations", format!("organizations[{index}]: {message}"));
        let role =
            validate_label("role", &membership.role, MAX_LABEL_CHARS).map_err(|e| field(e.to_string()))?;
        let organization_id = match &membership.organization {
            OrganizationRef::Id(id) => match store.find_organization(id).await? {
                Some(found) => found.id,
                None => return Err(field(format!("no organization has the id `{id}`"))),
            },
            OrganizationRef::Name(wanted) => {
                let wanted =
                    validate_label("name", wanted, MAX_NAME_CHARS).map_err(|e| field(e.to_string()))?;
                match (
                    directory.ids_named(store, &wanted).await?,
                    new_organizations.iter().find(|o| o.name == wanted),
                ) {
                    (_, Some(created)) => created.id.clone(),
                    ([id], None) => id.clone(),
                    ([], None) => {
                        let organization = OrganizationRecord {
                            id: uuid::Uuid::new_v4().to_string(),
                            name: wanted,
                            created_at: now,
                        };
                        let id = organization.id.clone();
                        new_organizations.push(organization);
                        id
                    }
                    (ids, None) => {
                        return Err(field(format!(
                            "{} organizations are named `{wanted}`; name it by its id",
                            ids.len()
                        )));
                    }
                }
            }
        };
        memberships.retain(|m| m.organization_id != organization_id);
        memberships.push(MembershipRecord {
            organization_id,
            user_id: user.id.clone(),
            role,
            created_at: now,
        });
    }
    match store.import_user(&user, &new_organizations, &memberships).await {
        Ok(()) => {
            for organization in &new_organizations {
                directory.add(organization);
            }
            Ok(Imported::Created {
                user,
                new_organizations,
            })
        }
        Err(StoreError::Conflict) => match store.find_user_by_email(&user.email).await? {
            Some(existing) => Ok(Imported::Exists(existing)),
            None => Err(AccountError::Conflict(format!(
                "a user with the email `{}` exists",
                user.email
            ))),
        },
        Err(StoreError::MissingReference) => Err(AccountError::NotFound(
            "an organization the user names no longer exists".to_owned(),
        )),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_an_imported_user_shows_no_hash() {
        let user = ImportedUser {
            email: "a@example.com".into(),
            name: "A".into(),
            email_verified: false,
            password_hash: Some(Secret::new("$2b$12$sEcReTsEcReTsEcReTsEcR")),
            organizations: Vec::new(),
        };
        let printed = format!("{user:?}");
        assert!(printed.contains("a@example.com"), "{printed}");
        assert!(!printed.contains("sEcReT"), "{printed}");
    }

    #[test]
    fn over_long_hashes_are_refused_before_parsing() {
        let long = Secret::new(format!("$2b$12${}", "a".repeat(MAX_HASH_BYTES)));
        let error = validate_hash(&long).unwrap_err().to_string();
        assert!(error.contains("at most 512 bytes"), "{error}");
    }
}
