//! The `Store` contract, method by method, against both backends: the same
//! calls must give the same answers on SQLite and PostgreSQL.

use std::sync::Arc;

use latchkey::config::{DatabaseSettings, SqliteSynchronous};
use latchkey::secret::TokenDigest;
use latchkey::store::{
    AdminKeyRecord, ClientRecord, MembershipRecord, OrganizationRecord, SigningKeyRecord, Store, StoreError,
    UserRecord,
};

use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase};

backend_tests!(
    clients_round_trip_and_update_only_what_each_method_names,
    organization_clients_list_only_that_organizations_clients,
    users_are_unique_by_email_case_insensitively,
    memberships_upsert_and_cascade,
    signing_keys_and_admin_keys,
    migrations_are_idempotent,
    scope_reviews_are_written_with_their_client_and_decided_once,
    a_clients_consents_list_newest_first_then_by_organization_name,
);

async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::create(backend).await;
    let settings = DatabaseSettings {
        max_connections: 4,
        sqlite_synchronous: SqliteSynchronous::Normal,
        ..DatabaseSettings::new(database.url.clone())
    };
    (latchkey::store::open(&settings).await.unwrap(), database)
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        secret_digest: Some(TokenDigest::of("secret")),
        name: "App".into(),
        description: "An app".into(),
        homepage_url: Some("https://app.example".into()),
        logo_url: None,
        redirect_uris: vec!["https://app.example/cb".into(), "http://localhost:3000/cb".into()],
        allowed_scopes: vec!["openid".into(), "cases:read".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        organization_id: None,
        id_token_signed_response_alg: Some(latchkey::keys::Alg::Es256),
        enabled: true,
        created_at: 100,
        updated_at: 100,
    }
}

fn user(id: &str, email: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        email: email.into(),
        name: "User".into(),
        email_verified: false,
        password_hash: "$argon2id$hash".into(),
        created_at: 1,
        updated_at: 1,
    }
}

async fn clients_round_trip_and_update_only_what_each_method_names(backend: Backend) {
    let (store, _db) = open(backend).await;
    let original = client("c1");
    store.insert_client(&original).await.unwrap();
    assert!(matches!(
        store.insert_client(&original).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.find_client("c1").await.unwrap(), Some(original.clone()));
    assert_eq!(store.find_client("c2").await.unwrap(), None);

    let mut public = client("c2");
    public.secret_digest = None;
    public.created_at = 200;
    store.insert_client(&public).await.unwrap();
    let listed: Vec<String> = store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, ["c1", "c2"]);
    assert_eq!(
        store.find_client("c2").await.unwrap().unwrap().secret_digest,
        None
    );

    let mut edited = original.clone();
    edited.name = "Renamed".into();
    edited.redirect_uris = vec!["https://other.example/cb".into()];
    edited.enabled = false;
    edited.secret_digest = None;
    edited.updated_at = 150;
    assert!(store.update_client_details(&edited).await.unwrap());
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert_eq!(found.name, "Renamed");
    assert_eq!(found.redirect_uris, ["https://other.example/cb"]);
    assert!(found.enabled, "details update leaves the enabled flag");
    assert_eq!(
        found.secret_digest, original.secret_digest,
        "details update leaves the secret"
    );

    assert!(
        store
            .set_client_secret("c1", &TokenDigest::of("new"), 160)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_client("c1")
            .await
            .unwrap()
            .unwrap()
            .secret_digest
            .unwrap()
            .matches(&TokenDigest::of("new"))
    );
    assert!(store.set_client_enabled("c1", false, 170).await.unwrap());
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert!(!found.enabled);
    assert_eq!(found.updated_at, 170);
    assert!(!store.set_client_enabled("missing", false, 170).await.unwrap());
    assert!(store.delete_client("c1").await.unwrap());
    assert!(!store.delete_client("c1").await.unwrap());
}

async fn organization_clients_list_only_that_organizations_clients(backend: Backend) {
    let (store, _db) = open(backend).await;
    for id in ["o1", "o2"] {
        store
            .insert_organization(&OrganizationRecord {
                id: id.into(),
                name: id.into(),
                created_at: 1,
            })
            .await
            .unwrap();
    }
    for (id, organization, created_at) in [
        ("late", Some("o1"), 300),
        ("early", Some("o1"), 100),
        ("other", Some("o2"), 50),
        ("nobody", None, 10),
    ] {
        let mut record = client(id);
        record.organization_id = organization.map(str::to_owned);
        record.created_at = created_at;
        store.insert_client(&record).await.unwrap();
    }
    let listed = |organization: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_organization_clients(organization)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.client_id)
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(listed("o1").await, ["early", "late"], "oldest first");
    assert_eq!(listed("o2").await, ["other"]);
    assert!(listed("o3").await.is_empty());
}

async fn users_are_unique_by_email_case_insensitively(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "Alice@Example.com")).await.unwrap();
    assert!(matches!(
        store.insert_user(&user("u2", "alice@example.COM")).await,
        Err(StoreError::Conflict)
    ));
    let found = store
        .find_user_by_email("ALICE@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "u1");
    assert_eq!(found.email, "Alice@Example.com", "the email is kept as given");
    assert_eq!(store.find_user("u1").await.unwrap(), Some(found));
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert!(store.delete_user("u1").await.unwrap());
    assert_eq!(store.find_user_by_email("alice@example.com").await.unwrap(), None);
}

async fn memberships_upsert_and_cascade(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "a@example.com")).await.unwrap();
    for id in ["o1", "o2"] {
        store
            .insert_organization(&OrganizationRecord {
                id: id.into(),
                name: id.into(),
                created_at: 1,
            })
            .await
            .unwrap();
    }
    let membership = |org: &str, role: &str| MembershipRecord {
        organization_id: org.into(),
        user_id: "u1".into(),
        role: role.into(),
        created_at: 5,
    };
    store
        .upsert_membership(&membership("o1", "member"))
        .await
        .unwrap();
    store.upsert_membership(&membership("o1", "admin")).await.unwrap();
    store
        .upsert_membership(&membership("o2", "member"))
        .await
        .unwrap();
    let members = store.list_members("o1").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, "admin");
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 2);
    let missing_user = MembershipRecord {
        user_id: "nobody".into(),
        ..membership("o1", "x")
    };
    assert!(matches!(
        store.upsert_membership(&missing_user).await,
        Err(StoreError::MissingReference)
    ));

    let mut owned = client("c1");
    owned.organization_id = Some("o2".into());
    store.insert_client(&owned).await.unwrap();
    assert!(store.delete_organization("o2").await.unwrap());
    assert_eq!(
        store.find_client("c1").await.unwrap(),
        None,
        "an organization's apps go with it"
    );
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 1);
    assert!(store.delete_user("u1").await.unwrap());
    assert!(
        store.list_members("o1").await.unwrap().is_empty(),
        "memberships go with the user"
    );
    assert!(!store.delete_membership("o1", "u1").await.unwrap());
}

async fn signing_keys_and_admin_keys(backend: Backend) {
    let (store, _db) = open(backend).await;
    let key = |kid: &str, created_at| SigningKeyRecord {
        kid: kid.into(),
        alg: "RS256".into(),
        private_key_sealed: vec![1, 2, 3],
        created_at,
        activates_at: created_at,
        retired_at: None,
    };
    store.insert_signing_key(&key("k2", 20)).await.unwrap();
    store.insert_signing_key(&key("k1", 10)).await.unwrap();
    let kids: Vec<String> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k1", "k2"]);
    assert!(store.retire_signing_key("k1", 30).await.unwrap());
    assert!(
        !store.retire_signing_key("k1", 40).await.unwrap(),
        "already retired"
    );
    assert_eq!(store.list_signing_keys().await.unwrap()[0].retired_at, Some(30));

    let admin = AdminKeyRecord {
        id: "a1".into(),
        name: "ops".into(),
        key_digest: TokenDigest::of("k"),
        created_at: 1,
    };
    store.insert_admin_key(&admin).await.unwrap();
    assert_eq!(
        store.find_admin_key(&TokenDigest::of("k")).await.unwrap(),
        Some(admin)
    );
    assert_eq!(
        store.find_admin_key(&TokenDigest::of("other")).await.unwrap(),
        None
    );
    assert_eq!(store.list_admin_keys().await.unwrap().len(), 1);
    assert!(store.delete_admin_key("a1").await.unwrap());
    assert_eq!(store.find_admin_key(&TokenDigest::of("k")).await.unwrap(), None);
}

async fn migrations_are_idempotent(backend: Backend) {
    let (store, database) = open(backend).await;
    store.insert_client(&client("kept")).await.unwrap();
    let settings = DatabaseSettings {
        max_connections: 2,
        sqlite_synchronous: SqliteSynchronous::Full,
        ..DatabaseSettings::new(database.url.clone())
    };
    let reopened = latchkey::store::open(&settings).await.unwrap();
    assert!(reopened.find_client("kept").await.unwrap().is_some());
    reopened.ping().await.unwrap();
}

fn review(client_id: &str, scope: &str, requested_at: i64) -> latchkey::store::ScopeReviewRecord {
    latchkey::store::ScopeReviewRecord {
        client_id: client_id.into(),
        scope: scope.into(),
        status: latchkey::store::ScopeReviewStatus::Pending,
        reason: None,
        requested_at,
        decided_at: None,
    }
}

/// Reviews are inserted and replaced with their client in one transaction,
/// listed per client and per status, approved exactly once (the scope
/// joins the allowed ones) or denied with a reason, and go with the client.
async fn scope_reviews_are_written_with_their_client_and_decided_once(backend: Backend) {
    use latchkey::store::ScopeReviewStatus::{Denied, Pending};
    let (store, _db) = open(backend).await;
    let app = client("reviewed");
    let reviews = [
        review("reviewed", "cases:write", 100),
        review("reviewed", "invoices:write", 101),
    ];
    store.insert_client_with_reviews(&app, &reviews).await.unwrap();
    assert!(matches!(
        store.insert_client_with_reviews(&app, &reviews).await,
        Err(StoreError::Conflict)
    ));
    let listed = store.list_client_scope_reviews("reviewed").await.unwrap();
    assert_eq!(listed, reviews.to_vec());
    let pending = store.list_scope_reviews(Pending).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].client_name, "App");

    // Replacing the reviews with the client's details: one left.
    let mut edited = app.clone();
    edited.name = "Renamed".into();
    edited.updated_at = 200;
    assert!(
        store
            .update_client_with_reviews(&edited, &reviews[..1])
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_client_with_reviews(&client("nobody"), &[])
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_client("reviewed").await.unwrap().unwrap().name,
        "Renamed"
    );
    assert!(
        store
            .find_scope_review("reviewed", "invoices:write")
            .await
            .unwrap()
            .is_none()
    );

    // Approve once: the review goes, the scope is allowed.
    let allowed: Vec<String> = vec!["openid".into(), "cases:read".into(), "cases:write".into()];
    let approvals = tokio::join!(
        store.approve_scope("reviewed", "cases:write", &allowed, 300),
        store.approve_scope("reviewed", "cases:write", &allowed, 300),
    );
    assert_eq!(
        [approvals.0.unwrap(), approvals.1.unwrap()]
            .iter()
            .filter(|a| **a)
            .count(),
        1
    );
    assert_eq!(
        store
            .find_client("reviewed")
            .await
            .unwrap()
            .unwrap()
            .allowed_scopes,
        allowed
    );
    assert!(
        store
            .find_scope_review("reviewed", "cases:write")
            .await
            .unwrap()
            .is_none()
    );

    // Deny with a reason.
    store
        .update_client_with_reviews(&edited, &[review("reviewed", "invoices:write", 400)])
        .await
        .unwrap();
    assert!(
        store
            .deny_scope("reviewed", "invoices:write", "not for this app", 500)
            .await
            .unwrap()
    );
    assert!(!store.deny_scope("reviewed", "nothing", "x", 500).await.unwrap());
    let denied = store
        .find_scope_review("reviewed", "invoices:write")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (denied.status, denied.reason.as_deref(), denied.decided_at),
        (Denied, Some("not for this app"), Some(500))
    );
    assert_eq!(store.list_scope_reviews(Denied).await.unwrap().len(), 1);
    assert!(store.list_scope_reviews(Pending).await.unwrap().is_empty());

    // Deleting the client deletes its reviews.
    assert!(store.delete_client("reviewed").await.unwrap());
    assert!(
        store
            .list_client_scope_reviews("reviewed")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_scope_reviews(Denied).await.unwrap().is_empty());
}

/// One client's consents across organizations: newest approval first,
/// ties in organization-name order; other clients' consents are not listed.
async fn a_clients_consents_list_newest_first_then_by_organization_name(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "a@example.com")).await.unwrap();
    for (id, name) in [("o1", "Birch"), ("o2", "Acme"), ("o3", "Cedar")] {
        let organization = OrganizationRecord {
            id: id.into(),
            name: name.into(),
            created_at: 1,
        };
        store.insert_organization(&organization).await.unwrap();
    }
    store.insert_client(&client("c1")).await.unwrap();
    store.insert_client(&client("c2")).await.unwrap();
    let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    store
        .upsert_consent("u1", "o1", "c1", &scopes(&["openid"]), 10)
        .await
        .unwrap();
    store
        .upsert_consent("u1", "o2", "c1", &scopes(&["openid"]), 10)
        .await
        .unwrap();
    store
        .upsert_consent("u1", "o3", "c1", &scopes(&["openid", "email"]), 20)
        .await
        .unwrap();
    store
        .upsert_consent("u1", "o1", "c2", &scopes(&["openid"]), 30)
        .await
        .unwrap();
    let listed = store.list_client_consents("u1", "c1").await.unwrap();
    assert_eq!(
        listed,
        vec![
            ("o3".to_owned(), scopes(&["openid", "email"]), 20),
            ("o2".to_owned(), scopes(&["openid"]), 10),
            ("o1".to_owned(), scopes(&["openid"]), 10),
        ]
    );
    assert!(
        store
            .list_client_consents("u1", "nobody")
            .await
            .unwrap()
            .is_empty()
    );
}
