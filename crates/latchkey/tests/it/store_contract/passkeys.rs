//! Passkeys' storage: a user's WebAuthn handle is given once and kept;
//! passkeys are stored under their credential id (a second one with the
//! same id is a conflict), listed per user oldest first, found by id,
//! updated on use and deleted only by their own user; ceremonies are
//! taken once (deleted by the taking, expired ones not returned) and the
//! expired ones purged. Of concurrent takers of one ceremony exactly one
//! gets it.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{PasskeyCeremonyRecord, PasskeyRecord, Store};

use super::{ODD_TEXT, is_conflict, is_missing_reference, open, user};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    a_user_handle_is_given_once_and_kept,
    passkeys_are_stored_listed_used_and_removed_by_their_user,
    ceremonies_are_taken_once_and_purged_once_expired,
    concurrent_takers_of_one_ceremony_get_it_once,
);

fn passkey(id: &str, user_id: &str, created_at: i64) -> PasskeyRecord {
    PasskeyRecord {
        credential_id: id.into(),
        user_id: user_id.into(),
        passkey: format!(r#"{{"cred":{{"cred_id":"{id}","counter":0}}}}"#),
        name: ODD_TEXT.into(),
        backup_eligible: false,
        backup_state: false,
        created_at,
        last_used_at: None,
    }
}

fn ceremony(name: &str, user_id: Option<&str>, expires_at: i64) -> PasskeyCeremonyRecord {
    PasskeyCeremonyRecord {
        id_digest: TokenDigest::of(name),
        user_id: user_id.map(str::to_owned),
        state: r#"{"kind":"discoverable","state":{}}"#.into(),
        created_at: 100,
        expires_at,
    }
}

async fn a_user_handle_is_given_once_and_kept(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    assert_eq!(store.find_passkey_user_handle("u1").await.unwrap(), None);
    let first = store.passkey_user_handle("u1", "handle-a").await.unwrap();
    assert_eq!(first, "handle-a");
    let again = store.passkey_user_handle("u1", "handle-b").await.unwrap();
    assert_eq!(again, "handle-a", "the first handle stays");
    assert_eq!(
        store.find_passkey_user_handle("u1").await.unwrap().as_deref(),
        Some("handle-a")
    );
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    assert!(
        is_conflict(store.passkey_user_handle("u2", "handle-a").await),
        "a handle belongs to one user"
    );
    assert!(is_missing_reference(
        store.passkey_user_handle("ghost", "handle-c").await
    ));
}

async fn passkeys_are_stored_listed_used_and_removed_by_their_user(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    store.insert_passkey(&passkey("cred-b", "u1", 200)).await.unwrap();
    store.insert_passkey(&passkey("cred-a", "u1", 100)).await.unwrap();
    store.insert_passkey(&passkey("cred-c", "u2", 100)).await.unwrap();
    assert!(is_conflict(
        store.insert_passkey(&passkey("cred-a", "u2", 300)).await
    ));
    assert!(is_missing_reference(
        store.insert_passkey(&passkey("cred-x", "ghost", 300)).await
    ));

    let listed = store.list_passkeys("u1").await.unwrap();
    assert_eq!(
        listed,
        vec![passkey("cred-a", "u1", 100), passkey("cred-b", "u1", 200)]
    );
    assert_eq!(
        store.find_passkey("cred-c").await.unwrap(),
        Some(passkey("cred-c", "u2", 100))
    );
    assert_eq!(store.find_passkey("cred-none").await.unwrap(), None);

    assert!(
        store
            .record_passkey_use("cred-a", r#"{"counter":7}"#, true, true, 500)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use("cred-none", "{}", false, false, 500)
            .await
            .unwrap()
    );
    let used = store.find_passkey("cred-a").await.unwrap().unwrap();
    assert_eq!(
        used,
        PasskeyRecord {
            passkey: r#"{"counter":7}"#.into(),
            backup_eligible: true,
            backup_state: true,
            last_used_at: Some(500),
            ..passkey("cred-a", "u1", 100)
        }
    );

    assert!(!store.delete_passkey("u2", "cred-a").await.unwrap(), "not u2's");
    assert!(store.find_passkey("cred-a").await.unwrap().is_some());
    assert!(store.delete_passkey("u1", "cred-a").await.unwrap());
    assert!(!store.delete_passkey("u1", "cred-a").await.unwrap());
    assert_eq!(store.list_passkeys("u1").await.unwrap().len(), 1);
}

async fn ceremonies_are_taken_once_and_purged_once_expired(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store
        .insert_passkey_ceremony(&ceremony("live", Some("u1"), 400))
        .await
        .unwrap();
    store
        .insert_passkey_ceremony(&ceremony("anyone", None, 400))
        .await
        .unwrap();
    store
        .insert_passkey_ceremony(&ceremony("old", None, 150))
        .await
        .unwrap();
    store
        .insert_passkey_ceremony(&ceremony("stale", None, 160))
        .await
        .unwrap();
    assert!(is_conflict(
        store.insert_passkey_ceremony(&ceremony("live", None, 400)).await
    ));

    let taken = store
        .take_passkey_ceremony(&TokenDigest::of("live"), 200)
        .await
        .unwrap();
    assert_eq!(taken, Some(ceremony("live", Some("u1"), 400)));
    assert_eq!(
        store
            .take_passkey_ceremony(&TokenDigest::of("live"), 200)
            .await
            .unwrap(),
        None,
        "taken once"
    );
    assert_eq!(
        store
            .take_passkey_ceremony(&TokenDigest::of("old"), 200)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.purge_passkey_ceremonies(200).await.unwrap(),
        1,
        "only `stale` was left expired"
    );
    assert_eq!(store.purge_passkey_ceremonies(200).await.unwrap(), 0);
    assert_eq!(
        store
            .take_passkey_ceremony(&TokenDigest::of("anyone"), 399)
            .await
            .unwrap(),
        Some(ceremony("anyone", None, 400))
    );
}

async fn concurrent_takers_of_one_ceremony_get_it_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_passkey_ceremony(&ceremony("c1", None, 400))
        .await
        .unwrap();
    let store: Arc<dyn Store> = store;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_passkey_ceremony(&TokenDigest::of("c1"), 200).await })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
}
