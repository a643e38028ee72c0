//! client_credentials grants (a grant with no user per issuance) and their
//! tokens' liveness, revocation with the client, purging; the audit log
//! listed per client and action.

use latchkey::store::{AuditEvent, ClientCredentialsGrantRecord, ClientRecord};
use serde_json::json;

use super::{client, is_missing_reference, open, seed, strings};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    client_credentials_tokens_live_while_their_grant_and_client_do,
    expired_client_credentials_grants_are_purged,
    audit_events_list_per_client_and_action_newest_first,
);

/// Client `m1`, owned by `o1`.
fn machine() -> ClientRecord {
    ClientRecord {
        organization_id: Some("o1".into()),
        grant_types: vec![latchkey::oauth::grant_type::GrantType::ClientCredentials],
        redirect_uris: vec![],
        ..client("m1")
    }
}

/// A live grant of `m1` in `o1`, expiring at `expires_at`.
fn machine_grant(id: &str, expires_at: i64) -> ClientCredentialsGrantRecord {
    ClientCredentialsGrantRecord {
        id: id.into(),
        client_id: "m1".into(),
        organization_id: "o1".into(),
        scopes: strings(&["cases:read", "firm:read"]),
        created_at: 1_000,
        expires_at,
        revoked_at: None,
    }
}

async fn client_credentials_tokens_live_while_their_grant_and_client_do(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_client(&machine()).await.unwrap();
    store
        .insert_client_credentials_grant(&machine_grant("cc1", 4_600))
        .await
        .unwrap();
    assert_eq!(
        store.find_client_credentials_grant("cc1").await.unwrap(),
        Some(machine_grant("cc1", 4_600))
    );
    assert_eq!(store.find_client_credentials_grant("nope").await.unwrap(), None);
    let orphan = ClientCredentialsGrantRecord {
        client_id: "missing".into(),
        ..machine_grant("cc0", 4_600)
    };
    assert!(is_missing_reference(
        store.insert_client_credentials_grant(&orphan).await
    ));

    assert!(
        store
            .client_credentials_token_is_live("cc1", "cc1aaaa")
            .await
            .unwrap()
    );
    assert!(
        !store
            .client_credentials_token_is_live("missing", "x")
            .await
            .unwrap()
    );
    // A user grant's id is not a client_credentials grant, nor the reverse.
    assert!(!store.access_token_is_live("cc1", "cc1aaaa").await.unwrap());

    // The token itself revoked (RFC 7009): that token only.
    store
        .revoke_access_token("cc1aaaa", "cc1", 4_600, 1_100)
        .await
        .unwrap();
    assert!(
        !store
            .client_credentials_token_is_live("cc1", "cc1aaaa")
            .await
            .unwrap()
    );
    assert!(
        store
            .client_credentials_token_is_live("cc1", "cc1bbbb")
            .await
            .unwrap()
    );

    // The client leaving the organization ends it.
    let mut moved = machine();
    moved.organization_id = Some("o2".into());
    store.update_client_details(&moved).await.unwrap();
    assert!(
        !store
            .client_credentials_token_is_live("cc1", "cc1bbbb")
            .await
            .unwrap()
    );
    store.update_client_details(&machine()).await.unwrap();
    assert!(
        store
            .client_credentials_token_is_live("cc1", "cc1bbbb")
            .await
            .unwrap()
    );

    // Revoking the client's grants: those live, counted once.
    store
        .insert_client_credentials_grant(&machine_grant("cc2", 4_600))
        .await
        .unwrap();
    assert_eq!(
        store.revoke_client_credentials_grants("m1", 1_200).await.unwrap(),
        2
    );
    assert_eq!(
        store.revoke_client_credentials_grants("m1", 1_300).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .find_client_credentials_grant("cc2")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(1_200)
    );
    assert!(
        !store
            .client_credentials_token_is_live("cc2", "cc2aaaa")
            .await
            .unwrap()
    );

    // Disabling the client revokes its grants in the same transaction;
    // enabling it again revives none.
    store
        .insert_client_credentials_grant(&machine_grant("cc3", 4_600))
        .await
        .unwrap();
    assert!(store.set_client_enabled("m1", false, 1_400).await.unwrap());
    assert!(
        !store
            .client_credentials_token_is_live("cc3", "cc3aaaa")
            .await
            .unwrap()
    );
    assert!(store.set_client_enabled("m1", true, 1_500).await.unwrap());
    assert!(
        !store
            .client_credentials_token_is_live("cc3", "cc3aaaa")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_client_credentials_grant("cc3")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(1_400)
    );

    // A disabled client's fresh grant is not live either.
    store
        .insert_client_credentials_grant(&machine_grant("cc4", 4_600))
        .await
        .unwrap();
    assert!(
        store
            .client_credentials_token_is_live("cc4", "cc4aaaa")
            .await
            .unwrap()
    );
    assert!(store.set_client_enabled("m1", false, 1_600).await.unwrap());
    assert!(
        !store
            .client_credentials_token_is_live("cc4", "cc4aaaa")
            .await
            .unwrap()
    );

    // Deleting the client deletes its grants.
    assert!(store.delete_client("m1").await.unwrap());
    assert_eq!(store.find_client_credentials_grant("cc4").await.unwrap(), None);
}

async fn expired_client_credentials_grants_are_purged(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_client(&machine()).await.unwrap();
    for (id, expires_at) in [("old", 1_500), ("edge", 2_000), ("new", 9_000)] {
        store
            .insert_client_credentials_grant(&machine_grant(id, expires_at))
            .await
            .unwrap();
    }
    let counts = store.purge_expired(2_000, 0, 0).await.unwrap();
    assert_eq!(counts.grants, 1, "{counts:?}");
    assert_eq!(store.find_client_credentials_grant("old").await.unwrap(), None);
    assert!(
        store
            .find_client_credentials_grant("edge")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_client_credentials_grant("new")
            .await
            .unwrap()
            .is_some()
    );
}

fn event(id: &str, client_id: Option<&str>, action: &str, occurred_at: i64) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        occurred_at,
        actor: "system".into(),
        action: action.into(),
        client_id: client_id.map(str::to_owned),
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
        grant_id: Some("g1".into()),
        details: json!({"grant": "revoked"}),
    }
}

async fn audit_events_list_per_client_and_action_newest_first(backend: Backend) {
    let (store, _db) = open(backend).await;
    let events = [
        event("e1", Some("c1"), "refresh_token.replayed", 100),
        event("e2", Some("c1"), "refresh_token.retried", 200),
        event("e3", Some("c2"), "refresh_token.replayed", 300),
        event("e4", None, "refresh_token.replayed", 400),
        event("e5", Some("c1"), "refresh_token.replayed", 500),
        event("e6", Some("c1"), "refresh_token.replayed", 500),
    ];
    for event in &events {
        store.insert_audit_event(event).await.unwrap();
    }
    let listed = store
        .list_client_audit_events("c1", "refresh_token.replayed", 10)
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e6", "e5", "e1"], "newest first, ties by id");
    assert_eq!(listed[2], events[0], "every field round-trips");
    let limited = store
        .list_client_audit_events("c1", "refresh_token.replayed", 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    assert!(
        store
            .list_client_audit_events("c9", "refresh_token.replayed", 10)
            .await
            .unwrap()
            .is_empty()
    );
}
