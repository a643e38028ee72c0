//! Dynamic registrations and initial access tokens: a registered client is
//! written with its registration and a use of its initial access token in
//! one transaction, read and replaced together, deleted with its client,
//! and purged only while unused; initial access tokens round-trip, count
//! their uses exactly under concurrency, and are revoked once.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{ClientOrigin, ClientRecord, InitialAccessTokenRecord, RegistrationRecord};

use super::{ODD_TEXT, client, code, grant, is_conflict, open, seed, strings};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    registered_clients_round_trip_with_their_registration,
    replacing_a_registration_writes_client_and_registration_together,
    initial_access_tokens_round_trip_and_are_revoked_once,
    a_registration_counts_one_use_of_a_usable_initial_access_token,
    of_concurrent_registrations_with_one_use_left_exactly_one_succeeds,
    purging_deletes_only_old_unused_registrations,
);

fn dynamic(id: &str, created_at: i64) -> ClientRecord {
    ClientRecord {
        origin: ClientOrigin::Dynamic,
        secret_digest: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: strings(&[
            "http://127.0.0.1:8000/cb",
            "cursor://anysphere.cursor-retrieval/cb",
        ]),
        created_at,
        updated_at: created_at,
        ..client(id)
    }
}

fn registration(client_id: &str, token_id: Option<&str>) -> RegistrationRecord {
    RegistrationRecord {
        client_id: client_id.into(),
        access_token_digest: TokenDigest::of(&format!("reg_{client_id}")),
        software_id: Some(ODD_TEXT.into()),
        software_version: Some("1.0.0".into()),
        initial_access_token_id: token_id.map(str::to_owned),
        created_at: 100,
    }
}

fn token(id: &str, max_uses: Option<i64>, expires_at: Option<i64>) -> InitialAccessTokenRecord {
    InitialAccessTokenRecord {
        id: id.into(),
        name: ODD_TEXT.into(),
        token_digest: TokenDigest::of(&format!("iat_{id}")),
        created_at: 50,
        expires_at,
        max_uses,
        uses: 0,
        revoked_at: None,
    }
}

async fn registered_clients_round_trip_with_their_registration(backend: Backend) {
    let (store, _db) = open(backend).await;
    let record = dynamic("d1", 100);
    let bare = RegistrationRecord {
        software_id: None,
        software_version: None,
        ..registration("d1", None)
    };
    assert!(store.insert_registered_client(&record, &bare, 100).await.unwrap());
    assert_eq!(store.find_client("d1").await.unwrap(), Some(record.clone()));
    assert_eq!(store.find_registration("d1").await.unwrap(), Some(bare));
    assert_eq!(
        store.list_clients().await.unwrap()[0].origin,
        ClientOrigin::Dynamic
    );
    assert!(is_conflict(
        store
            .insert_registered_client(&record, &registration("d1", None), 100)
            .await
    ));
    assert!(store.find_registration("other").await.unwrap().is_none());
    // An operator's client has no registration.
    store.insert_client(&client("c1")).await.unwrap();
    assert_eq!(
        store.find_client("c1").await.unwrap().unwrap().origin,
        ClientOrigin::Operator
    );
    assert!(store.find_registration("c1").await.unwrap().is_none());
    // Deleting the client deletes its registration.
    assert!(store.delete_client("d1").await.unwrap());
    assert!(store.find_registration("d1").await.unwrap().is_none());
}

async fn replacing_a_registration_writes_client_and_registration_together(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_registered_client(&dynamic("d1", 100), &registration("d1", None), 100)
        .await
        .unwrap();
    let client = ClientRecord {
        name: "Renamed".into(),
        redirect_uris: strings(&["https://app.example/new"]),
        allowed_scopes: strings(&["openid"]),
        updated_at: 200,
        ..dynamic("d1", 100)
    };
    let replaced = RegistrationRecord {
        software_id: None,
        software_version: Some("2.0".into()),
        ..registration("d1", None)
    };
    assert!(store.update_registered_client(&client, &replaced).await.unwrap());
    assert_eq!(store.find_client("d1").await.unwrap(), Some(client));
    assert_eq!(store.find_registration("d1").await.unwrap(), Some(replaced));
    // No registration: nothing changes.
    store.insert_client(&super::client("c1")).await.unwrap();
    let operator = ClientRecord {
        name: "Changed".into(),
        ..super::client("c1")
    };
    assert!(
        !store
            .update_registered_client(&operator, &registration("c1", None))
            .await
            .unwrap()
    );
    assert_eq!(store.find_client("c1").await.unwrap().unwrap().name, "App");
}

async fn initial_access_tokens_round_trip_and_are_revoked_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(store.list_initial_access_tokens().await.unwrap().is_empty());
    let limited = token("t2", Some(3), Some(i64::MAX));
    let unlimited = InitialAccessTokenRecord {
        created_at: 10,
        ..token("t1", None, None)
    };
    store.insert_initial_access_token(&limited).await.unwrap();
    store.insert_initial_access_token(&unlimited).await.unwrap();
    assert_eq!(
        store
            .find_initial_access_token(&limited.token_digest)
            .await
            .unwrap(),
        Some(limited.clone())
    );
    assert!(
        store
            .find_initial_access_token(&TokenDigest::of("nothing"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_initial_access_tokens().await.unwrap(),
        [unlimited.clone(), limited.clone()],
        "oldest first"
    );
    let same_digest = InitialAccessTokenRecord {
        id: "t3".into(),
        ..limited.clone()
    };
    assert!(is_conflict(store.insert_initial_access_token(&same_digest).await));
    assert!(store.revoke_initial_access_token("t2", 500).await.unwrap());
    assert!(!store.revoke_initial_access_token("t2", 600).await.unwrap());
    assert!(!store.revoke_initial_access_token("none", 600).await.unwrap());
    let revoked = store
        .find_initial_access_token(&limited.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(500));
    assert!(!revoked.is_usable(100));
}

async fn a_registration_counts_one_use_of_a_usable_initial_access_token(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_initial_access_token(&token("once", Some(1), None))
        .await
        .unwrap();
    store
        .insert_initial_access_token(&token("expiring", None, Some(1_000)))
        .await
        .unwrap();
    store
        .insert_initial_access_token(&token("revoked", None, None))
        .await
        .unwrap();
    store.revoke_initial_access_token("revoked", 60).await.unwrap();
    let register = |id: &'static str, token_id: &'static str, now: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .insert_registered_client(&dynamic(id, now), &registration(id, Some(token_id)), now)
                .await
                .unwrap()
        }
    };
    assert!(register("a", "once", 100).await);
    assert!(!register("b", "once", 100).await, "used up");
    assert!(register("c", "expiring", 999).await);
    assert!(!register("d", "expiring", 1_000).await, "expired");
    assert!(!register("e", "revoked", 100).await, "revoked");
    assert!(!register("f", "no-such-token", 100).await, "unknown");
    for refused in ["b", "d", "e", "f"] {
        assert!(
            store.find_client(refused).await.unwrap().is_none(),
            "{refused} written"
        );
        assert!(store.find_registration(refused).await.unwrap().is_none());
    }
    assert_eq!(
        store
            .find_registration("a")
            .await
            .unwrap()
            .unwrap()
            .initial_access_token_id,
        Some("once".into())
    );
    let uses: Vec<(String, i64)> = store
        .list_initial_access_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.uses))
        .collect();
    assert!(
        uses.contains(&("once".into(), 1)) && uses.contains(&("expiring".into(), 1)),
        "{uses:?}"
    );
    assert!(uses.contains(&("revoked".into(), 0)), "{uses:?}");
    // A registration that fails after counting (the client id exists)
    // leaves the count as it was.
    assert!(is_conflict(
        store
            .insert_registered_client(&dynamic("c", 999), &registration("c", Some("expiring")), 999)
            .await
    ));
    let expiring = store
        .find_initial_access_token(&TokenDigest::of("iat_expiring"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expiring.uses, 1);
}

async fn of_concurrent_registrations_with_one_use_left_exactly_one_succeeds(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_initial_access_token(&token("last", Some(1), None))
        .await
        .unwrap();
    let callers = (0..8).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let id = format!("d{n}");
            store
                .insert_registered_client(&dynamic(&id, 100), &registration(&id, Some("last")), 100)
                .await
        })
    });
    let mut registered = 0;
    for caller in callers.collect::<Vec<_>>() {
        match caller.await.unwrap() {
            Ok(true) => registered += 1,
            Ok(false) => {}
            // SQLite may refuse a writer that waited too long; never a
            // second success.
            Err(error) => assert!(
                matches!(error, latchkey::store::StoreError::Unavailable(_)),
                "{error}"
            ),
        }
    }
    assert_eq!(registered, 1);
    let dynamic_clients = store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.origin == ClientOrigin::Dynamic)
        .count();
    assert_eq!(dynamic_clients, 1);
}

async fn purging_deletes_only_old_unused_registrations(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let insert = |id: &'static str, created_at: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .insert_registered_client(&dynamic(id, created_at), &registration(id, None), created_at)
                .await
                .unwrap();
        }
    };
    for (id, created_at) in [
        ("old", 100),
        ("with-code", 100),
        ("with-grant", 100),
        ("with-consent", 100),
        ("new", 5_000),
    ] {
        insert(id, created_at).await;
    }
    let code = latchkey::store::AuthorizationCodeRecord {
        client_id: "with-code".into(),
        ..code("code-1")
    };
    store.insert_authorization_code(&code).await.unwrap();
    // A code of `c1` whose exchange makes a grant of `with-grant`: that
    // client then has a grant and nothing else.
    let grant_code = super::code("code-2");
    store.insert_authorization_code(&grant_code).await.unwrap();
    let outcome = store
        .exchange_authorization_code(
            &grant_code.code_digest,
            &latchkey::store::GrantRecord {
                client_id: "with-grant".into(),
                ..grant("g1")
            },
            None,
            1_010,
        )
        .await
        .unwrap();
    assert_eq!(outcome, latchkey::store::CodeExchange::Exchanged);
    store
        .upsert_consent("u1", "o1", "with-consent", &strings(&["openid"]), 100)
        .await
        .unwrap();
    // `c1` (seeded) is the operator's, older than the cutoff.
    assert_eq!(store.purge_unused_registrations(1_000).await.unwrap(), 1);
    assert!(store.find_client("old").await.unwrap().is_none());
    assert!(store.find_registration("old").await.unwrap().is_none());
    for kept in ["with-code", "with-grant", "with-consent", "new", "c1"] {
        assert!(store.find_client(kept).await.unwrap().is_some(), "{kept} purged");
    }
    assert_eq!(store.purge_unused_registrations(1_000).await.unwrap(), 0);
}
