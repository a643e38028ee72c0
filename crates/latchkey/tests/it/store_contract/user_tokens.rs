//! The storage of links sent by mail: a link is found by digest (expired
//! ones purged by the next insert); completing a reset spends the link,
//! sets the hash, spends the user's other reset links and deletes all the
//! user's sessions — once, and only for an unused, unexpired reset link;
//! completing a verification sets `email_verified` only while the user's
//! email is the one the link went to. Of concurrent completions of one
//! link exactly one succeeds. A password change spends the user's unused
//! reset links, and nothing else.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{SessionRecord, Store, TokenPurpose, UserTokenRecord};

use super::{open, user};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    links_are_found_by_digest_and_purged_once_expired,
    a_reset_spends_the_link_sets_the_hash_and_ends_every_session_once,
    a_verification_holds_only_for_the_address_the_link_went_to,
    concurrent_resets_with_one_link_succeed_once,
    a_password_change_spends_only_that_users_unused_reset_links,
);

fn link(name: &str, user_id: &str, purpose: TokenPurpose, expires_at: i64) -> UserTokenRecord {
    UserTokenRecord {
        token_digest: TokenDigest::of(name),
        user_id: user_id.into(),
        purpose,
        email: format!("{user_id}@example.com"),
        created_at: 100,
        expires_at,
        used_at: None,
    }
}

fn session(name: &str, user_id: &str) -> SessionRecord {
    SessionRecord {
        id_digest: TokenDigest::of(name),
        user_id: user_id.into(),
        auth_time: 90,
        created_at: 100,
        expires_at: 10_000,
        user_agent: None,
        last_seen_at: None,
        amr: Vec::new(),
    }
}

async fn links_are_found_by_digest_and_purged_once_expired(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    let old = link("old", "u1", TokenPurpose::PasswordReset, 150);
    let fresh = link("fresh", "u1", TokenPurpose::VerifyEmail, 5000);
    store.insert_user_token(&old, 100).await.unwrap();
    assert_eq!(
        store.find_user_token(&TokenDigest::of("old")).await.unwrap(),
        Some(old)
    );
    store.insert_user_token(&fresh, 200).await.unwrap();
    assert_eq!(
        store.find_user_token(&TokenDigest::of("old")).await.unwrap(),
        None,
        "purged"
    );
    assert_eq!(
        store.find_user_token(&TokenDigest::of("fresh")).await.unwrap(),
        Some(fresh)
    );
    assert_eq!(
        store.find_user_token(&TokenDigest::of("none")).await.unwrap(),
        None
    );
    // Deleting the user deletes their links.
    store.delete_user("u1").await.unwrap();
    assert_eq!(
        store.find_user_token(&TokenDigest::of("fresh")).await.unwrap(),
        None
    );
}

async fn a_reset_spends_the_link_sets_the_hash_and_ends_every_session_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    for id in ["u1", "u2"] {
        store
            .insert_user(&user(id, &format!("{id}@example.com")))
            .await
            .unwrap();
        store
            .insert_session(&session(&format!("{id}-a"), id))
            .await
            .unwrap();
        store
            .insert_session(&session(&format!("{id}-b"), id))
            .await
            .unwrap();
    }
    for (name, user_id, purpose, expires_at) in [
        ("r1", "u1", TokenPurpose::PasswordReset, 5000),
        ("r2", "u1", TokenPurpose::PasswordReset, 5000),
        ("v1", "u1", TokenPurpose::VerifyEmail, 5000),
        ("late", "u1", TokenPurpose::PasswordReset, 300),
        ("other", "u2", TokenPurpose::PasswordReset, 5000),
    ] {
        store
            .insert_user_token(&link(name, user_id, purpose, expires_at), 100)
            .await
            .unwrap();
    }
    // Expired, or not a reset link: nothing.
    assert_eq!(
        store
            .complete_password_reset(&TokenDigest::of("late"), "$new", 400)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .complete_password_reset(&TokenDigest::of("v1"), "$new", 400)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .complete_password_reset(&TokenDigest::of("none"), "$new", 400)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_user("u1").await.unwrap().unwrap().password_hash,
        "$argon2id$hash"
    );

    let done = store
        .complete_password_reset(&TokenDigest::of("r1"), "$new", 400)
        .await
        .unwrap();
    assert_eq!(done.as_deref(), Some("u1"));
    let u1 = store.find_user("u1").await.unwrap().unwrap();
    assert_eq!((u1.password_hash.as_str(), u1.updated_at), ("$new", 400));
    let r1 = store
        .find_user_token(&TokenDigest::of("r1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r1.used_at, Some(400));
    let r2 = store
        .find_user_token(&TokenDigest::of("r2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r2.used_at, Some(400), "the user's other reset links are spent");
    let v1 = store
        .find_user_token(&TokenDigest::of("v1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v1.used_at, None, "a verification link is not");
    assert!(store.list_user_sessions("u1", 400).await.unwrap().is_empty());
    // Another user is untouched.
    assert_eq!(store.list_user_sessions("u2", 400).await.unwrap().len(), 2);
    let other = store
        .find_user_token(&TokenDigest::of("other"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.used_at, None);
    // Once.
    assert_eq!(
        store
            .complete_password_reset(&TokenDigest::of("r1"), "$again", 500)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .complete_password_reset(&TokenDigest::of("r2"), "$again", 500)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_user("u1").await.unwrap().unwrap().password_hash,
        "$new"
    );
}

async fn a_verification_holds_only_for_the_address_the_link_went_to(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "U1@Example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    store
        .insert_user_token(&link("v1", "u1", TokenPurpose::VerifyEmail, 5000), 100)
        .await
        .unwrap();
    store
        .insert_user_token(&link("r1", "u1", TokenPurpose::PasswordReset, 5000), 100)
        .await
        .unwrap();
    let mut stale = link("v2", "u2", TokenPurpose::VerifyEmail, 5000);
    stale.email = "previous@example.com".into();
    store.insert_user_token(&stale, 100).await.unwrap();

    assert_eq!(
        store
            .complete_email_verification(&TokenDigest::of("r1"), 200)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .complete_email_verification(&TokenDigest::of("v2"), 200)
            .await
            .unwrap(),
        None
    );
    assert!(!store.find_user("u2").await.unwrap().unwrap().email_verified);
    assert_eq!(
        store
            .find_user_token(&TokenDigest::of("v2"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None,
        "a refused verification writes nothing"
    );
    // The address matches case-insensitively.
    let done = store
        .complete_email_verification(&TokenDigest::of("v1"), 200)
        .await
        .unwrap();
    assert_eq!(done.as_deref(), Some("u1"));
    assert!(store.find_user("u1").await.unwrap().unwrap().email_verified);
    assert_eq!(
        store
            .complete_email_verification(&TokenDigest::of("v1"), 201)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .complete_email_verification(&TokenDigest::of("v1"), 6000)
            .await
            .unwrap(),
        None
    );
}

async fn concurrent_resets_with_one_link_succeed_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store
        .insert_user_token(&link("r1", "u1", TokenPurpose::PasswordReset, 5000), 100)
        .await
        .unwrap();
    let store: Arc<dyn Store> = store;
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .complete_password_reset(&TokenDigest::of("r1"), &format!("$h{n}"), 200)
                    .await
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            done += 1;
        }
    }
    assert_eq!(done, 1);
}

async fn a_password_change_spends_only_that_users_unused_reset_links(backend: Backend) {
    let (store, _db) = open(backend).await;
    for id in ["u1", "u2"] {
        store
            .insert_user(&user(id, &format!("{id}@example.com")))
            .await
            .unwrap();
    }
    let mut used = link("used", "u1", TokenPurpose::PasswordReset, 10_000);
    used.used_at = Some(150);
    for record in [
        link("reset-a", "u1", TokenPurpose::PasswordReset, 10_000),
        link("reset-b", "u1", TokenPurpose::PasswordReset, 10_000),
        used,
        link("verify", "u1", TokenPurpose::VerifyEmail, 10_000),
        link("other-user", "u2", TokenPurpose::PasswordReset, 10_000),
    ] {
        store.insert_user_token(&record, 100).await.unwrap();
    }
    assert_eq!(store.spend_password_resets("u1", 200).await.unwrap(), 2);
    let used_at = |name: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .find_user_token(&TokenDigest::of(name))
                .await
                .unwrap()
                .unwrap()
                .used_at
        }
    };
    assert_eq!(used_at("reset-a").await, Some(200));
    assert_eq!(used_at("reset-b").await, Some(200));
    assert_eq!(used_at("used").await, Some(150), "an earlier use stands");
    assert_eq!(used_at("verify").await, None, "verification links stay");
    assert_eq!(used_at("other-user").await, None);
    assert!(
        store
            .complete_password_reset(&TokenDigest::of("reset-a"), "x", 300)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.spend_password_resets("u1", 300).await.unwrap(), 0);
}
