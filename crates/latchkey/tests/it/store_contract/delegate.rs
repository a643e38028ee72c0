//! Delegated sign-in's storage: challenges are stored and found by digest
//! (expired ones purged by the next insert), users by external id and
//! organizations by name; a completed sign-in consumes its challenge and
//! records its jti once, creates or updates the user, sets exactly the
//! listed memberships (creating and renaming organizations) and inserts
//! the session — and a refused one (spent challenge, replayed jti, user
//! linked elsewhere, email taken) writes nothing. Of concurrent
//! completions of one challenge exactly one succeeds.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{
    DelegatedMembership, DelegatedOutcome, DelegatedSignIn, LoginChallengeRecord, SessionRecord, Store,
};

use super::{is_conflict, open, organization, user};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    challenges_are_found_by_digest_and_purged_once_expired,
    a_sign_in_creates_the_user_then_updates_them_with_exactly_the_listed_memberships,
    refused_sign_ins_write_nothing,
    concurrent_completions_of_one_challenge_succeed_once,
);

fn challenge(name: &str, expires_at: i64) -> LoginChallengeRecord {
    LoginChallengeRecord {
        challenge_digest: TokenDigest::of(name),
        browser_digest: TokenDigest::of("browser"),
        return_to: "/api/oauth/authorize?client_id=c".into(),
        created_at: 100,
        expires_at,
    }
}

fn session(name: &str, user_id: &str) -> SessionRecord {
    SessionRecord {
        id_digest: TokenDigest::of(name),
        user_id: user_id.into(),
        auth_time: 90,
        created_at: 100,
        expires_at: 1000,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into()),
        last_seen_at: None,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
    }
}

fn sign_in(challenge: &str, jti: &str, user_id: &str, email: &str, create: bool) -> DelegatedSignIn {
    DelegatedSignIn {
        challenge_digest: TokenDigest::of(challenge),
        jti_digest: TokenDigest::of(jti),
        jti_expires_at: 400,
        user: latchkey::store::UserRecord {
            password_hash: "!delegated".into(),
            ..user(user_id, email)
        },
        create_user: create,
        external_id: format!("sub-{user_id}"),
        memberships: None,
        session: session(&format!("session-{challenge}"), user_id),
        now: 110,
    }
}

fn member_of(id: &str, name: &str, rename: bool, role: &str) -> DelegatedMembership {
    DelegatedMembership {
        organization: organization(id, name),
        rename,
        role: role.into(),
    }
}

async fn challenges_are_found_by_digest_and_purged_once_expired(backend: Backend) {
    let (store, _db) = open(backend).await;
    let first = challenge("c1", 400);
    store.insert_login_challenge(&first, 100).await.unwrap();
    assert_eq!(
        store.find_login_challenge(&TokenDigest::of("c1")).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.find_login_challenge(&TokenDigest::of("c2")).await.unwrap(),
        None
    );
    // A later insert purges the expired ones.
    store
        .insert_login_challenge(&challenge("c2", 900), 500)
        .await
        .unwrap();
    assert_eq!(
        store.find_login_challenge(&TokenDigest::of("c1")).await.unwrap(),
        None
    );
    assert!(
        store
            .find_login_challenge(&TokenDigest::of("c2"))
            .await
            .unwrap()
            .is_some()
    );
    // The same digest twice is a conflict.
    assert!(is_conflict(
        store.insert_login_challenge(&challenge("c2", 900), 500).await
    ));
}

async fn a_sign_in_creates_the_user_then_updates_them_with_exactly_the_listed_memberships(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_organization(&organization("o-old", "Old"))
        .await
        .unwrap();
    store
        .insert_login_challenge(&challenge("c1", 400), 100)
        .await
        .unwrap();
    let mut first = sign_in("c1", "j1", "u1", "dana@example.com", true);
    first.memberships = Some(vec![
        member_of("o-old", "Old", false, "member"),
        member_of("o-new", "New", true, "admin"),
    ]);
    assert_eq!(
        store.complete_delegated_sign_in(&first).await.unwrap(),
        DelegatedOutcome::Completed
    );
    let created = store.find_user_by_external_id("sub-u1").await.unwrap().unwrap();
    assert_eq!(created.email, "dana@example.com");
    assert_eq!(store.find_user_by_external_id("sub-other").await.unwrap(), None);
    assert_eq!(
        store.find_login_challenge(&TokenDigest::of("c1")).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_session(&TokenDigest::of("session-c1")).await.unwrap(),
        Some(first.session.clone())
    );
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 2);
    assert_eq!(
        store.find_organization_by_name("New").await.unwrap().unwrap().id,
        "o-new"
    );

    store
        .insert_login_challenge(&challenge("c2", 400), 100)
        .await
        .unwrap();
    let mut second = sign_in("c2", "j2", "u1", "dana.new@example.com", false);
    second.user.name = "Dana".into();
    second.memberships = Some(vec![member_of("o-new", "Renamed", true, "owner")]);
    assert_eq!(
        store.complete_delegated_sign_in(&second).await.unwrap(),
        DelegatedOutcome::Completed
    );
    let updated = store.find_user("u1").await.unwrap().unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.name.as_str()),
        ("dana.new@example.com", "Dana")
    );
    assert_eq!(updated.password_hash, "!delegated", "an update keeps the hash");
    let memberships = store.list_memberships("u1").await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(
        (
            memberships[0].organization_id.as_str(),
            memberships[0].role.as_str()
        ),
        ("o-new", "owner")
    );
    assert_eq!(
        store.find_organization("o-new").await.unwrap().unwrap().name,
        "Renamed"
    );
    assert!(
        store.find_organization("o-old").await.unwrap().is_some(),
        "organizations stay"
    );

    // Without memberships, they stay as they are.
    store
        .insert_login_challenge(&challenge("c3", 400), 100)
        .await
        .unwrap();
    let third = sign_in("c3", "j3", "u1", "dana.new@example.com", false);
    store.complete_delegated_sign_in(&third).await.unwrap();
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 1);
}

async fn refused_sign_ins_write_nothing(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_user(&user("taken", "taken@example.com"))
        .await
        .unwrap();
    store
        .insert_login_challenge(&challenge("c1", 400), 100)
        .await
        .unwrap();
    // An expired challenge is spent.
    let mut late = sign_in("c1", "j1", "u1", "dana@example.com", true);
    late.now = 400;
    assert_eq!(
        store.complete_delegated_sign_in(&late).await.unwrap(),
        DelegatedOutcome::ChallengeSpent
    );
    // The email of another user: a conflict, the challenge kept.
    let mut clash = sign_in("c1", "j1", "u1", "TAKEN@example.com", true);
    clash.memberships = Some(vec![member_of("o1", "One", true, "member")]);
    assert!(is_conflict(store.complete_delegated_sign_in(&clash).await));
    assert!(
        store
            .find_login_challenge(&TokenDigest::of("c1"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.find_user("u1").await.unwrap(), None);
    assert_eq!(store.find_organization("o1").await.unwrap(), None);
    // A user linked to another sub is not updated.
    let linked = sign_in("c1", "j1", "u1", "dana@example.com", true);
    store.complete_delegated_sign_in(&linked).await.unwrap();
    store
        .insert_login_challenge(&challenge("c2", 400), 100)
        .await
        .unwrap();
    let mut other = sign_in("c2", "j2", "u1", "dana@example.com", false);
    other.external_id = "sub-someone-else".into();
    other.user.name = "Changed".into();
    assert_eq!(
        store.complete_delegated_sign_in(&other).await.unwrap(),
        DelegatedOutcome::UserNotLinkable
    );
    assert_eq!(store.find_user("u1").await.unwrap().unwrap().name, "User");
    assert!(
        store
            .find_login_challenge(&TokenDigest::of("c2"))
            .await
            .unwrap()
            .is_some()
    );
    // A jti seen before.
    let replay = sign_in("c2", "j1", "u1", "dana@example.com", false);
    assert_eq!(
        store.complete_delegated_sign_in(&replay).await.unwrap(),
        DelegatedOutcome::AssertionReplayed
    );
    assert!(
        store
            .find_login_challenge(&TokenDigest::of("c2"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.find_session(&TokenDigest::of("session-c2")).await.unwrap(),
        None
    );
}

async fn concurrent_completions_of_one_challenge_succeed_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_login_challenge(&challenge("c1", 400), 100)
        .await
        .unwrap();
    let store: Arc<dyn Store> = store;
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut attempt = sign_in(
                    "c1",
                    &format!("j{n}"),
                    &format!("u{n}"),
                    &format!("u{n}@example.com"),
                    true,
                );
                attempt.session = session(&format!("s{n}"), &format!("u{n}"));
                store.complete_delegated_sign_in(&attempt).await
            })
        })
        .collect();
    let mut completed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(DelegatedOutcome::Completed) => completed += 1,
            Ok(DelegatedOutcome::ChallengeSpent) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(completed, 1);
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}
