//! Second factors' storage: a pending authenticator app is stored,
//! replaced while pending and never over a confirmed one; confirming
//! records the step and replaces the recovery codes in one go, once; a
//! step is accepted only when later than the last (of concurrent callers,
//! once); a recovery code is used once; removal takes the codes with it;
//! and the organization rule is set and read per organization.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::Store;

use super::{open, seed};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    a_pending_app_is_replaced_until_confirmed_and_confirmed_once,
    steps_are_accepted_only_when_later_than_the_last,
    recovery_codes_are_used_once_and_replaced_together,
    removal_takes_the_app_and_its_codes,
    concurrent_uses_of_one_step_or_code_succeed_once,
    the_organization_rule_is_set_and_read_per_organization,
);

fn codes(names: &[&str]) -> Vec<TokenDigest> {
    names.iter().map(|n| TokenDigest::of(n)).collect()
}

async fn a_pending_app_is_replaced_until_confirmed_and_confirmed_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    assert!(store.find_totp("u1").await.unwrap().is_none());
    assert!(store.put_pending_totp("u1", b"sealed-1", 100).await.unwrap());
    assert!(store.put_pending_totp("u1", b"sealed-2", 110).await.unwrap());
    let pending = store.find_totp("u1").await.unwrap().unwrap();
    assert_eq!(pending.secret_sealed, b"sealed-2");
    assert_eq!(
        (pending.created_at, pending.confirmed_at, pending.last_used_step),
        (110, None, None)
    );
    assert!(!format!("{pending:?}").contains("sealed-2"));
    assert!(!store.use_totp_step("u1", 5).await.unwrap(), "not confirmed yet");

    assert!(
        store
            .confirm_totp("u1", 7, &codes(&["a", "b"]), 120)
            .await
            .unwrap()
    );
    assert!(
        !store.confirm_totp("u1", 8, &codes(&["c"]), 130).await.unwrap(),
        "once"
    );
    let active = store.find_totp("u1").await.unwrap().unwrap();
    assert_eq!((active.confirmed_at, active.last_used_step), (Some(120), Some(7)));
    assert_eq!(store.count_recovery_codes("u1").await.unwrap(), 2);
    assert!(!store.put_pending_totp("u1", b"sealed-3", 140).await.unwrap());
    assert_eq!(
        store.find_totp("u1").await.unwrap().unwrap().secret_sealed,
        b"sealed-2"
    );
    assert!(
        !store.confirm_totp("u2", 1, &[], 1).await.unwrap(),
        "nothing pending"
    );
    assert!(store.find_totp("u2").await.unwrap().is_none());
}

async fn steps_are_accepted_only_when_later_than_the_last(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.put_pending_totp("u1", b"s", 100).await.unwrap();
    store.confirm_totp("u1", 10, &[], 100).await.unwrap();
    assert!(
        !store.use_totp_step("u1", 10).await.unwrap(),
        "the confirming step"
    );
    assert!(!store.use_totp_step("u1", 9).await.unwrap());
    assert!(store.use_totp_step("u1", 11).await.unwrap());
    assert!(!store.use_totp_step("u1", 11).await.unwrap(), "replayed");
    assert!(store.use_totp_step("u1", 13).await.unwrap());
    assert_eq!(
        store.find_totp("u1").await.unwrap().unwrap().last_used_step,
        Some(13)
    );
    assert!(!store.use_totp_step("u2", 20).await.unwrap(), "no app");
}

async fn recovery_codes_are_used_once_and_replaced_together(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store
        .replace_recovery_codes("u1", &codes(&["a", "b", "c"]), 100)
        .await
        .unwrap();
    store
        .replace_recovery_codes("u2", &codes(&["a"]), 100)
        .await
        .unwrap();
    assert!(
        store
            .use_recovery_code("u1", &TokenDigest::of("b"), 110)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code("u1", &TokenDigest::of("b"), 111)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code("u1", &TokenDigest::of("z"), 111)
            .await
            .unwrap()
    );
    assert_eq!(store.count_recovery_codes("u1").await.unwrap(), 2);
    assert_eq!(
        store.count_recovery_codes("u2").await.unwrap(),
        1,
        "another user's codes"
    );
    store
        .replace_recovery_codes("u1", &codes(&["d", "e"]), 120)
        .await
        .unwrap();
    assert!(
        !store
            .use_recovery_code("u1", &TokenDigest::of("a"), 121)
            .await
            .unwrap(),
        "replaced"
    );
    assert!(
        store
            .use_recovery_code("u1", &TokenDigest::of("d"), 121)
            .await
            .unwrap()
    );
    assert_eq!(store.count_recovery_codes("u1").await.unwrap(), 1);
    assert_eq!(store.count_recovery_codes("nobody").await.unwrap(), 0);
}

async fn removal_takes_the_app_and_its_codes(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.put_pending_totp("u1", b"s", 100).await.unwrap();
    store
        .confirm_totp("u1", 3, &codes(&["a", "b"]), 100)
        .await
        .unwrap();
    assert!(store.delete_totp("u1").await.unwrap());
    assert!(!store.delete_totp("u1").await.unwrap());
    assert!(store.find_totp("u1").await.unwrap().is_none());
    assert_eq!(store.count_recovery_codes("u1").await.unwrap(), 0);
    // A new enrolment starts afresh.
    assert!(store.put_pending_totp("u1", b"t", 200).await.unwrap());
    // Deleting the user deletes both.
    store.confirm_totp("u1", 4, &codes(&["c"]), 200).await.unwrap();
    assert!(store.delete_user("u1").await.unwrap());
    assert!(store.find_totp("u1").await.unwrap().is_none());
    assert_eq!(store.count_recovery_codes("u1").await.unwrap(), 0);
}

async fn concurrent_uses_of_one_step_or_code_succeed_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.put_pending_totp("u1", b"s", 100).await.unwrap();
    store.confirm_totp("u1", 1, &codes(&["a"]), 100).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store);
            tokio::spawn(async move {
                if n % 2 == 0 {
                    store.use_totp_step("u1", 2).await.unwrap()
                } else {
                    store
                        .use_recovery_code("u1", &TokenDigest::of("a"), 101)
                        .await
                        .unwrap()
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let steps = results.iter().step_by(2).filter(|ok| **ok).count();
    let codes = results.iter().skip(1).step_by(2).filter(|ok| **ok).count();
    assert_eq!((steps, codes), (1, 1), "{results:?}");
}

async fn the_organization_rule_is_set_and_read_per_organization(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let both = vec!["o1".to_owned(), "o2".to_owned(), "missing".to_owned()];
    assert!(
        store
            .organizations_requiring_second_factor(&both)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.set_organization_second_factor("o2", true).await.unwrap());
    assert!(
        !store
            .set_organization_second_factor("missing", true)
            .await
            .unwrap()
    );
    assert_eq!(
        store.organizations_requiring_second_factor(&both).await.unwrap(),
        vec!["o2".to_owned()]
    );
    assert!(store.set_organization_second_factor("o2", false).await.unwrap());
    assert!(
        store
            .organizations_requiring_second_factor(&both)
            .await
            .unwrap()
            .is_empty()
    );
}
