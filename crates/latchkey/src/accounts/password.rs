//! User passwords: argon2id with the crate's default parameters (19 MiB,
//! t=2), run on the blocking pool so a hash never stalls request handling.
//! Only user passwords are hashed this way; machine secrets use a digest.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// The PHC string of `password`, with a fresh random salt.
pub async fn hash(password: Secret) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|_| HashError)
    })
    .await
    .map_err(|_| HashError)?
}

/// Whether `password` matches the PHC string `hash`; malformed hashes never
/// match.
pub async fn verify(password: Secret, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.expose().as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_the_same_password() {
        let phc = hash(Secret::new("correct horse battery staple")).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(Secret::new("correct horse battery staple"), phc.clone()).await);
        assert!(!verify(Secret::new("wrong"), phc).await);
        assert!(!verify(Secret::new("x"), "not a hash".into()).await);
    }
}
