//! Grants after their creation: revocation, access-token liveness and
//! revocation, refresh tokens and their rotation (also raced: of eight
//! callers exactly one wins and the others change nothing).

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{GrantRecord, RefreshTokenRecord};

use super::{
    ODD_TEXT, exchanged_grant, grant, is_conflict, is_missing_reference, open, refresh, seed, strings,
};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    revoking_a_grant_ends_its_tokens_once,
    revoking_an_access_token_ends_that_token_only,
    refresh_tokens_round_trip_and_rotate_once,
    a_refresh_context_is_the_token_its_grant_and_the_subject,
    of_concurrent_rotations_of_one_token_exactly_one_succeeds,
);

fn digest(value: &str) -> TokenDigest {
    TokenDigest::of(value)
}

/// Revoking a grant records the time, deletes its refresh tokens (used or
/// not) and ends its access tokens; a second revocation, or one of a grant
/// that does not exist, is `false` and changes nothing.
async fn revoking_a_grant_ends_its_tokens_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    exchanged_grant(store.as_ref(), "g2", "r2").await;
    assert!(
        store
            .rotate_refresh_token(&digest("r1"), &refresh("r1b", "g1"), 1_100)
            .await
            .unwrap()
    );
    assert!(store.access_token_is_live("g1", "a").await.unwrap());
    assert!(!store.access_token_is_live("missing", "a").await.unwrap());

    assert!(store.revoke_grant("g1", 1_200).await.unwrap());
    assert_eq!(
        store.find_grant("g1").await.unwrap(),
        Some(GrantRecord {
            revoked_at: Some(1_200),
            ..grant("g1")
        })
    );
    assert_eq!(
        store.find_refresh_token(&digest("r1")).await.unwrap(),
        None,
        "used ones too"
    );
    assert_eq!(store.find_refresh_token(&digest("r1b")).await.unwrap(), None);
    assert!(!store.access_token_is_live("g1", "a").await.unwrap());
    assert!(!store.access_token_is_live("g1", "b").await.unwrap());

    assert!(!store.revoke_grant("g1", 1_300).await.unwrap());
    assert_eq!(
        store.find_grant("g1").await.unwrap().unwrap().revoked_at,
        Some(1_200)
    );
    assert!(!store.revoke_grant("missing", 1_300).await.unwrap());

    assert!(
        store.access_token_is_live("g2", "a").await.unwrap(),
        "other grants stay live"
    );
    assert!(store.find_refresh_token(&digest("r2")).await.unwrap().is_some());
}

/// A revoked access token is not live; other tokens of its grant are.
/// Revoking it again is accepted and changes nothing.
async fn revoking_an_access_token_ends_that_token_only(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    exchanged_grant(store.as_ref(), "g2", "r2").await;
    let jti = "0192d4e0-7b1a-7c3e-9f00-ü";
    store.revoke_access_token(jti, "g1", 5_000, 1_100).await.unwrap();
    assert!(!store.access_token_is_live("g1", jti).await.unwrap());
    assert!(store.access_token_is_live("g1", "other-jti").await.unwrap());
    assert!(store.access_token_is_live("g2", "other-jti").await.unwrap());
    store.revoke_access_token(jti, "g1", 5_000, 1_200).await.unwrap();
    assert!(!store.access_token_is_live("g1", jti).await.unwrap());
    assert!(
        store.find_refresh_token(&digest("r1")).await.unwrap().is_some(),
        "the grant goes on"
    );
    assert_eq!(store.find_grant("g1").await.unwrap().unwrap().revoked_at, None);
    // The record names no grant that must exist.
    store
        .revoke_access_token("orphan", "no-grant", 5_000, 1_100)
        .await
        .unwrap();
}

/// Every field of a refresh token survives; rotation marks the old token
/// used at `now` and writes the successor, once; a failed successor
/// write leaves the old token unused.
async fn refresh_tokens_round_trip_and_rotate_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    let unusual = RefreshTokenRecord {
        token_digest: TokenDigest([9; 32]),
        grant_id: "g1".into(),
        client_id: ODD_TEXT.into(),
        scopes: vec![],
        created_at: i64::MIN,
        expires_at: i64::MAX,
        used_at: Some(-1),
    };
    store.insert_refresh_token(&unusual).await.unwrap();
    assert_eq!(
        store.find_refresh_token(&TokenDigest([9; 32])).await.unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(
        store.find_refresh_token(&digest("r1")).await.unwrap(),
        Some(refresh("r1", "g1"))
    );
    assert_eq!(store.find_refresh_token(&digest("missing")).await.unwrap(), None);
    assert!(is_conflict(
        store.insert_refresh_token(&refresh("r1", "g1")).await
    ));
    assert!(is_missing_reference(
        store.insert_refresh_token(&refresh("stray", "ghost")).await
    ));

    let next = RefreshTokenRecord {
        scopes: strings(&["openid"]),
        created_at: 2_000,
        expires_at: 9_000,
        ..refresh("r2", "g1")
    };
    assert!(
        store
            .rotate_refresh_token(&digest("r1"), &next, 2_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_refresh_token(&digest("r1")).await.unwrap(),
        Some(RefreshTokenRecord {
            used_at: Some(2_000),
            ..refresh("r1", "g1")
        })
    );
    assert_eq!(store.find_refresh_token(&digest("r2")).await.unwrap(), Some(next));

    assert!(
        !store
            .rotate_refresh_token(&digest("r1"), &refresh("r3", "g1"), 2_100)
            .await
            .unwrap()
    );
    assert_eq!(store.find_refresh_token(&digest("r3")).await.unwrap(), None);
    assert_eq!(
        store
            .find_refresh_token(&digest("r1"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(2_000)
    );
    assert!(
        !store
            .rotate_refresh_token(&digest("missing"), &refresh("r4", "g1"), 2_100)
            .await
            .unwrap()
    );
    assert_eq!(store.find_refresh_token(&digest("r4")).await.unwrap(), None);
    assert!(
        !store
            .rotate_refresh_token(&TokenDigest([9; 32]), &refresh("r5", "g1"), 2_100)
            .await
            .unwrap(),
        "inserted used"
    );
    assert_eq!(store.find_refresh_token(&digest("r5")).await.unwrap(), None);

    // The successor collides with an existing token: nothing changes.
    let result = store
        .rotate_refresh_token(&digest("r2"), &refresh("r1", "g1"), 2_200)
        .await;
    assert!(is_conflict(result));
    assert_eq!(
        store
            .find_refresh_token(&digest("r2"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    let result = store
        .rotate_refresh_token(&digest("r2"), &refresh("r6", "ghost"), 2_200)
        .await;
    assert!(is_missing_reference(result));
    assert_eq!(
        store
            .find_refresh_token(&digest("r2"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    assert!(
        store
            .rotate_refresh_token(&digest("r2"), &refresh("r7", "g1"), 2_300)
            .await
            .unwrap()
    );
}

/// Eight concurrent rotations of one token with distinct successors:
/// exactly one `true`, and exactly its successor exists.
async fn of_concurrent_rotations_of_one_token_exactly_one_succeeds(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "g1", "raced").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let successor = refresh(&format!("next-{i}"), "g1");
                store
                    .rotate_refresh_token(&digest("raced"), &successor, 3_000 + i)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap() {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    for i in 0..8 {
        let found = store
            .find_refresh_token(&digest(&format!("next-{i}")))
            .await
            .unwrap();
        assert_eq!(found.is_some(), i == winners[0], "successor {i}");
    }
    let old = store.find_refresh_token(&digest("raced")).await.unwrap().unwrap();
    assert_eq!(old.used_at, Some(3_000 + winners[0] as i64));
}

/// What a refresh reads at once: the token, its grant (revoked or not) and
/// the grant's subject with the role the user has now.
async fn a_refresh_context_is_the_token_its_grant_and_the_subject(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    assert_eq!(
        store.find_refresh_context(&digest("unknown")).await.unwrap(),
        None
    );

    let context = store.find_refresh_context(&digest("r1")).await.unwrap().unwrap();
    assert_eq!(
        Some(context.token.clone()),
        store.find_refresh_token(&digest("r1")).await.unwrap()
    );
    assert_eq!(context.grant, store.find_grant("g1").await.unwrap());
    let grant = context.grant.unwrap();
    assert_eq!(
        context.subject,
        store
            .find_subject(&grant.user_id, &grant.organization_id)
            .await
            .unwrap()
    );
    assert_eq!(context.subject.unwrap().role.as_deref(), Some("admin"));

    // Out of the organization: the subject stays, without a role.
    store
        .delete_membership(&grant.organization_id, &grant.user_id)
        .await
        .unwrap();
    let context = store.find_refresh_context(&digest("r1")).await.unwrap().unwrap();
    assert_eq!(context.subject.unwrap().role, None);

    // A revoked grant's tokens are gone with it.
    assert!(store.revoke_grant("g1", 2_000).await.unwrap());
    assert_eq!(store.find_refresh_context(&digest("r1")).await.unwrap(), None);
}
