//! Users, organizations and memberships with the cascades of deleting a
//! user or an organization; admin keys, signing keys, sessions and API
//! keys.

use latchkey::secret::TokenDigest;
use latchkey::store::{
    AdminKeyRecord, ApiKeyRecord, CaseRecord, CustomerRecord, MembershipRecord, OrganizationRecord,
    SessionRecord, SigningKeyRecord, SubjectRecord, UserRecord,
};

use super::{
    ODD_TEXT, client, exchanged_grant, is_conflict, is_missing_reference, long_text, membership, open,
    organization, seed, strings, user,
};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    users_round_trip_and_are_unique_by_email_case_insensitively,
    a_password_hash_is_replaced_only_while_it_is_the_expected_one,
    an_imported_user_is_written_with_its_organizations_and_memberships_or_not_at_all,
    organizations_round_trip_and_list_oldest_first,
    memberships_upsert_keep_their_creation_time_and_list_in_order,
    a_subject_is_the_user_the_organization_and_the_role_there,
    deleting_a_user_removes_what_hangs_off_them,
    deleting_an_organization_removes_what_it_owns,
    signing_keys_round_trip_list_oldest_first_and_retire_once,
    admin_keys_are_found_by_digest_and_unique,
    sessions_are_found_by_digest_expired_or_not,
    a_users_live_sessions_list_most_recently_used_first,
    a_session_use_is_recorded_at_most_once_a_minute,
    a_session_is_deleted_by_its_user_only,
    all_other_sessions_of_a_user_are_deleted_in_one_go,
    api_keys_are_found_by_digest_revoked_once_and_touched_at_most_once_a_minute,
);

fn session(value: &str, user_id: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        id_digest: TokenDigest::of(value),
        user_id: user_id.into(),
        auth_time: 10,
        created_at: 10,
        expires_at,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into()),
        last_seen_at: None,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
    }
}

fn api_key(id: &str, organization_id: &str, created_at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        organization_id: organization_id.into(),
        name: format!("key {id}"),
        scopes: strings(&["cases:read"]),
        key_digest: TokenDigest::of(&format!("api-key-{id}")),
        created_at,
        last_used_at: None,
        revoked_at: None,
    }
}

async fn users_round_trip_and_are_unique_by_email_case_insensitively(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "Alice@Example.com")).await.unwrap();
    assert!(is_conflict(
        store.insert_user(&user("u2", "alice@example.COM")).await
    ));
    assert!(
        is_conflict(store.insert_user(&user("u1", "other@example.com")).await),
        "ids are unique"
    );
    let found = store
        .find_user_by_email("ALICE@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found,
        user("u1", "Alice@Example.com"),
        "the email is kept as given"
    );
    assert_eq!(store.find_user("u1").await.unwrap(), Some(found));
    assert_eq!(store.find_user("U1").await.unwrap(), None);
    assert_eq!(store.find_user("missing").await.unwrap(), None);
    assert_eq!(
        store.find_user_by_email("nobody@example.com").await.unwrap(),
        None
    );

    // Every field, non-ASCII case folding and extreme times.
    let unusual = UserRecord {
        id: "ü-2".into(),
        email: "ÉLODIE.Ørsted@Exämple.com".into(),
        name: ODD_TEXT.into(),
        email_verified: true,
        password_hash: long_text(),
        created_at: i64::MIN,
        updated_at: i64::MAX,
    };
    store.insert_user(&unusual).await.unwrap();
    assert_eq!(
        store
            .find_user_by_email("élodie.ørsted@exämple.com")
            .await
            .unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(store.find_user("ü-2").await.unwrap(), Some(unusual.clone()));
    assert!(is_conflict(
        store.insert_user(&user("u3", "élodie.ØRSTED@EXÄMPLE.COM")).await
    ));

    let mut tie = user("u0", "tie@example.com");
    tie.created_at = 1;
    store.insert_user(&tie).await.unwrap();
    let ids: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, ["ü-2", "u0", "u1"], "oldest first, then by id");

    assert!(store.delete_user("u1").await.unwrap());
    assert!(!store.delete_user("u1").await.unwrap());
    assert_eq!(store.find_user_by_email("alice@example.com").await.unwrap(), None);
    store.insert_user(&user("u9", "ALICE@example.com")).await.unwrap();
    assert_eq!(
        store.list_users().await.unwrap().len(),
        3,
        "the email is free again"
    );
}

async fn organizations_round_trip_and_list_oldest_first(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(store.list_organizations().await.unwrap().is_empty());
    let records = [
        OrganizationRecord {
            id: "b".into(),
            name: ODD_TEXT.into(),
            created_at: i64::MAX,
        },
        OrganizationRecord {
            id: "c".into(),
            name: long_text(),
            created_at: 7,
        },
        OrganizationRecord {
            id: "a".into(),
            name: String::new(),
            created_at: 7,
        },
        OrganizationRecord {
            id: "d".into(),
            name: "Early".into(),
            created_at: i64::MIN,
        },
    ];
    for record in &records {
        store.insert_organization(record).await.unwrap();
    }
    assert!(is_conflict(
        store.insert_organization(&organization("a", "Again")).await
    ));
    assert_eq!(
        store.find_organization("b").await.unwrap(),
        Some(records[0].clone())
    );
    assert_eq!(
        store.find_organization("c").await.unwrap(),
        Some(records[1].clone())
    );
    assert_eq!(store.find_organization("missing").await.unwrap(), None);
    let listed = store.list_organizations().await.unwrap();
    assert_eq!(
        listed,
        vec![
            records[3].clone(),
            records[2].clone(),
            records[1].clone(),
            records[0].clone()
        ]
    );
    assert!(store.delete_organization("a").await.unwrap());
    assert!(!store.delete_organization("a").await.unwrap());
    assert_eq!(store.find_organization("a").await.unwrap(), None);
    assert_eq!(store.list_organizations().await.unwrap().len(), 3);
}

async fn memberships_upsert_keep_their_creation_time_and_list_in_order(backend: Backend) {
    let (store, _db) = open(backend).await;
    for id in ["u1", "u2", "u3"] {
        store
            .insert_user(&user(id, &format!("{id}@example.com")))
            .await
            .unwrap();
    }
    for id in ["o1", "o2", "o3"] {
        store.insert_organization(&organization(id, id)).await.unwrap();
    }
    let at = |organization_id: &str, user_id: &str, role: &str, created_at| MembershipRecord {
        created_at,
        ..membership(organization_id, user_id, role)
    };
    store
        .upsert_membership(&at("o1", "u2", "member", 20))
        .await
        .unwrap();
    store
        .upsert_membership(&at("o1", "u3", "member", 10))
        .await
        .unwrap();
    store
        .upsert_membership(&at("o1", "u1", "member", 20))
        .await
        .unwrap();
    store
        .upsert_membership(&at("o3", "u1", ODD_TEXT, 5))
        .await
        .unwrap();
    store
        .upsert_membership(&at("o2", "u1", "member", 5))
        .await
        .unwrap();
    // A second upsert changes the role only.
    store
        .upsert_membership(&at("o1", "u1", "admin", 99))
        .await
        .unwrap();

    assert_eq!(
        store.list_members("o1").await.unwrap(),
        vec![
            at("o1", "u3", "member", 10),
            at("o1", "u1", "admin", 20),
            at("o1", "u2", "member", 20),
        ],
        "oldest first, then by user id"
    );
    assert_eq!(
        store.list_memberships("u1").await.unwrap(),
        vec![
            at("o2", "u1", "member", 5),
            at("o3", "u1", ODD_TEXT, 5),
            at("o1", "u1", "admin", 20),
        ],
        "oldest first, then by organization id"
    );
    assert!(store.list_members("o9").await.unwrap().is_empty());
    assert!(store.list_memberships("u9").await.unwrap().is_empty());

    assert!(is_missing_reference(
        store.upsert_membership(&membership("o1", "nobody", "x")).await
    ));
    assert!(is_missing_reference(
        store.upsert_membership(&membership("nowhere", "u1", "x")).await
    ));
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 3);

    assert!(store.delete_membership("o1", "u1").await.unwrap());
    assert!(!store.delete_membership("o1", "u1").await.unwrap());
    assert!(!store.delete_membership("o1", "nobody").await.unwrap());
    assert_eq!(store.list_members("o1").await.unwrap().len(), 2);
    assert_eq!(store.list_memberships("u1").await.unwrap().len(), 2);
    assert!(store.find_user("u1").await.unwrap().is_some(), "the user stays");
}

async fn a_password_hash_is_replaced_only_while_it_is_the_expected_one(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "a@example.com")).await.unwrap();
    store.insert_user(&user("u2", "b@example.com")).await.unwrap();
    assert!(
        !store
            .replace_password_hash("u1", "$2b$04$not-the-hash", "$argon2id$new", 50)
            .await
            .unwrap(),
        "a changed hash is left alone"
    );
    assert!(
        !store
            .replace_password_hash("missing", "$argon2id$hash", "$argon2id$new", 50)
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_password_hash("u1", "$argon2id$hash", "$argon2id$new", 50)
            .await
            .unwrap()
    );
    let replaced = store.find_user("u1").await.unwrap().unwrap();
    assert_eq!(
        (
            replaced.password_hash.as_str(),
            replaced.updated_at,
            replaced.created_at
        ),
        ("$argon2id$new", 50, 1)
    );
    assert!(
        !store
            .replace_password_hash("u1", "$argon2id$hash", "$argon2id$newer", 60)
            .await
            .unwrap(),
        "the second of two replacements of the same hash loses"
    );
    assert_eq!(
        store.find_user("u2").await.unwrap().unwrap(),
        user("u2", "b@example.com"),
        "another user is untouched"
    );
}

async fn an_imported_user_is_written_with_its_organizations_and_memberships_or_not_at_all(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_organization(&organization("o1", "Existing"))
        .await
        .unwrap();
    let imported = UserRecord {
        password_hash: "$2b$04$imported".into(),
        ..user("u1", "a@example.com")
    };
    store
        .import_user(
            &imported,
            &[organization("o2", ODD_TEXT)],
            &[membership("o1", "u1", "member"), membership("o2", "u1", "ADMIN")],
        )
        .await
        .unwrap();
    assert_eq!(store.find_user("u1").await.unwrap(), Some(imported));
    assert_eq!(
        store.find_organization("o2").await.unwrap(),
        Some(organization("o2", ODD_TEXT))
    );
    assert_eq!(
        store.list_memberships("u1").await.unwrap(),
        vec![membership("o1", "u1", "member"), membership("o2", "u1", "ADMIN")]
    );

    // The email taken (in another case): nothing of the second import stays.
    let again = store
        .import_user(
            &user("u2", "A@EXAMPLE.com"),
            &[organization("o3", "Would be new")],
            &[membership("o3", "u2", "member")],
        )
        .await;
    assert!(is_conflict(again));
    // A membership of an organization that does not exist: nothing stays.
    let dangling = store
        .import_user(
            &user("u3", "c@example.com"),
            &[organization("o4", "Also new")],
            &[
                membership("o4", "u3", "member"),
                membership("gone", "u3", "member"),
            ],
        )
        .await;
    assert!(is_missing_reference(dangling));
    for id in ["u2", "u3"] {
        assert_eq!(store.find_user(id).await.unwrap(), None, "{id}");
    }
    assert_eq!(store.find_user_by_email("c@example.com").await.unwrap(), None);
    let names: Vec<String> = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(names, ["o1", "o2"], "no organization of a refused import stays");
}

/// The schema cascades a user's memberships, sessions, consents, grants
/// (with their refresh tokens) and codes; another user's stay.
async fn deleting_a_user_removes_what_hangs_off_them(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store
        .upsert_membership(&membership("o1", "u2", "member"))
        .await
        .unwrap();
    store.insert_session(&session("s1", "u1", 10_000)).await.unwrap();
    store.insert_session(&session("s2", "u2", 10_000)).await.unwrap();
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    store
        .upsert_consent("u2", "o1", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    store
        .insert_authorization_code(&super::code("pending"))
        .await
        .unwrap();

    assert!(store.delete_user("u1").await.unwrap());
    assert_eq!(store.find_user("u1").await.unwrap(), None);
    assert!(store.list_memberships("u1").await.unwrap().is_empty());
    assert_eq!(store.find_session(&TokenDigest::of("s1")).await.unwrap(), None);
    assert_eq!(store.find_consent("u1", "o1", "c1").await.unwrap(), None);
    assert!(store.list_connected_apps("u1").await.unwrap().is_empty());
    assert_eq!(store.find_grant("g1").await.unwrap(), None);
    assert!(!store.access_token_is_live("g1", "jti").await.unwrap());
    assert_eq!(
        store.find_refresh_token(&TokenDigest::of("r1")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_authorization_code(&TokenDigest::of("pending"))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        store.list_members("o1").await.unwrap(),
        vec![membership("o1", "u2", "member")]
    );
    assert!(
        store
            .find_session(&TokenDigest::of("s2"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.find_consent("u2", "o1", "c1").await.unwrap().is_some());
    assert!(store.find_client("c1").await.unwrap().is_some(), "clients stay");
    assert!(store.find_organization("o1").await.unwrap().is_some());
}

/// The schema cascades an organization's memberships, the apps it owns
/// (with theirs), consents, grants and codes in it, API keys, cases and
/// customers; another organization's stay.
async fn deleting_an_organization_removes_what_it_owns(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let mut owned = client("owned");
    owned.organization_id = Some("o1".into());
    store.insert_client(&owned).await.unwrap();
    let mut elsewhere = client("elsewhere");
    elsewhere.organization_id = Some("o2".into());
    store.insert_client(&elsewhere).await.unwrap();
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    store
        .upsert_consent("u1", "o2", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    store
        .insert_authorization_code(&super::code("pending"))
        .await
        .unwrap();
    store.insert_api_key(&api_key("k1", "o1", 1)).await.unwrap();
    store.insert_api_key(&api_key("k2", "o2", 1)).await.unwrap();
    let case = |id: &str, org: &str| CaseRecord {
        id: id.into(),
        organization_id: org.into(),
        title: "t".into(),
        status: "open".into(),
        created_at: 1,
    };
    let customer = |id: &str, org: &str| CustomerRecord {
        id: id.into(),
        organization_id: org.into(),
        name: "n".into(),
        email: None,
        created_at: 1,
    };
    store.insert_case(&case("case1", "o1")).await.unwrap();
    store.insert_case(&case("case2", "o2")).await.unwrap();
    store.insert_customer(&customer("cu1", "o1")).await.unwrap();
    store.insert_customer(&customer("cu2", "o2")).await.unwrap();

    assert!(store.delete_organization("o1").await.unwrap());
    assert_eq!(
        store.list_memberships("u1").await.unwrap(),
        vec![membership("o2", "u1", "member")]
    );
    assert_eq!(
        store.find_client("owned").await.unwrap(),
        None,
        "an organization's apps go with it"
    );
    assert!(store.list_organization_clients("o1").await.unwrap().is_empty());
    assert_eq!(store.find_consent("u1", "o1", "c1").await.unwrap(), None);
    assert_eq!(store.find_grant("g1").await.unwrap(), None);
    assert_eq!(
        store.find_refresh_token(&TokenDigest::of("r1")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_authorization_code(&TokenDigest::of("pending"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_api_key(&TokenDigest::of("api-key-k1")).await.unwrap(),
        None
    );
    assert!(store.list_api_keys("o1").await.unwrap().is_empty());
    assert_eq!(store.find_case("o1", "case1").await.unwrap(), None);
    assert_eq!(store.find_customer("o1", "cu1").await.unwrap(), None);

    assert!(
        store.find_client("c1").await.unwrap().is_some(),
        "unowned apps stay"
    );
    assert!(store.find_client("elsewhere").await.unwrap().is_some());
    assert!(store.find_consent("u1", "o2", "c1").await.unwrap().is_some());
    assert_eq!(store.list_api_keys("o2").await.unwrap().len(), 1);
    assert!(store.find_case("o2", "case2").await.unwrap().is_some());
    assert!(store.find_customer("o2", "cu2").await.unwrap().is_some());
    assert!(store.find_user("u1").await.unwrap().is_some(), "people stay");
}

async fn signing_keys_round_trip_list_oldest_first_and_retire_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(store.list_signing_keys().await.unwrap().is_empty());
    let key = |kid: &str, created_at| SigningKeyRecord {
        kid: kid.into(),
        alg: "RS256".into(),
        private_key_sealed: vec![1, 2, 3],
        created_at,
        activates_at: created_at,
        retired_at: None,
    };
    let unusual = SigningKeyRecord {
        kid: "ü-key".into(),
        alg: ODD_TEXT.into(),
        private_key_sealed: (0..=255u8).cycle().take(4_096).collect(),
        created_at: i64::MIN,
        activates_at: i64::MAX,
        retired_at: Some(i64::MIN),
    };
    store.insert_signing_key(&key("k2", 20)).await.unwrap();
    store.insert_signing_key(&key("k1", 20)).await.unwrap();
    store.insert_signing_key(&key("k0", 30)).await.unwrap();
    store.insert_signing_key(&unusual).await.unwrap();
    let empty = SigningKeyRecord {
        private_key_sealed: vec![],
        ..key("k9", 40)
    };
    store.insert_signing_key(&empty).await.unwrap();
    assert!(is_conflict(store.insert_signing_key(&key("k1", 50)).await));

    let listed = store.list_signing_keys().await.unwrap();
    let kids: Vec<&str> = listed.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        kids,
        ["ü-key", "k1", "k2", "k0", "k9"],
        "oldest first, then by kid"
    );
    let first = &listed[0];
    assert_eq!(
        (
            &first.alg,
            &first.private_key_sealed,
            first.created_at,
            first.activates_at,
            first.retired_at
        ),
        (
            &unusual.alg,
            &unusual.private_key_sealed,
            i64::MIN,
            i64::MAX,
            Some(i64::MIN)
        )
    );
    assert_eq!(listed[1].private_key_sealed, [1, 2, 3]);
    assert!(listed[4].private_key_sealed.is_empty());

    assert!(store.retire_signing_key("k1", 30).await.unwrap());
    assert!(
        !store.retire_signing_key("k1", 40).await.unwrap(),
        "already retired"
    );
    assert!(
        !store.retire_signing_key("ü-key", 40).await.unwrap(),
        "inserted retired"
    );
    assert!(!store.retire_signing_key("missing", 40).await.unwrap());
    let listed = store.list_signing_keys().await.unwrap();
    let retired: Vec<Option<i64>> = listed.iter().map(|k| k.retired_at).collect();
    assert_eq!(retired, [Some(i64::MIN), Some(30), None, None, None]);
}

async fn admin_keys_are_found_by_digest_and_unique(backend: Backend) {
    let (store, _db) = open(backend).await;
    let admin = |id: &str, value: &str, created_at| AdminKeyRecord {
        id: id.into(),
        name: format!("ops {id}"),
        key_digest: TokenDigest::of(value),
        created_at,
    };
    let unusual = AdminKeyRecord {
        name: ODD_TEXT.into(),
        created_at: i64::MIN,
        ..admin("a3", "k3", 0)
    };
    store.insert_admin_key(&admin("a2", "k2", 5)).await.unwrap();
    store.insert_admin_key(&admin("a1", "k1", 5)).await.unwrap();
    store.insert_admin_key(&unusual).await.unwrap();
    assert!(
        is_conflict(store.insert_admin_key(&admin("a9", "k1", 9)).await),
        "digests are unique"
    );
    assert!(
        is_conflict(store.insert_admin_key(&admin("a1", "k9", 9)).await),
        "ids are unique"
    );

    assert_eq!(
        store.find_admin_key(&TokenDigest::of("k1")).await.unwrap(),
        Some(admin("a1", "k1", 5))
    );
    assert_eq!(
        store.find_admin_key(&TokenDigest::of("k3")).await.unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(
        store.find_admin_key(&TokenDigest::of("other")).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_admin_keys().await.unwrap(),
        vec![unusual, admin("a1", "k1", 5), admin("a2", "k2", 5)],
        "oldest first, then by id"
    );

    assert!(store.delete_admin_key("a1").await.unwrap());
    assert!(!store.delete_admin_key("a1").await.unwrap());
    assert_eq!(store.find_admin_key(&TokenDigest::of("k1")).await.unwrap(), None);
    assert_eq!(store.list_admin_keys().await.unwrap().len(), 2);
}

async fn sessions_are_found_by_digest_expired_or_not(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    let expired = session("old", "u1", 11);
    let unusual = SessionRecord {
        id_digest: TokenDigest([0; 32]),
        user_id: "u1".into(),
        auth_time: i64::MIN,
        created_at: -1,
        expires_at: i64::MAX,
        user_agent: Some(ODD_TEXT.into()),
        last_seen_at: Some(i64::MAX),
        amr: Vec::new(),
    };
    store.insert_session(&expired).await.unwrap();
    store.insert_session(&unusual).await.unwrap();
    assert!(is_conflict(store.insert_session(&expired).await));
    assert!(is_missing_reference(
        store.insert_session(&session("s", "nobody", 100)).await
    ));

    assert_eq!(
        store.find_session(&TokenDigest::of("old")).await.unwrap(),
        Some(expired)
    );
    assert_eq!(
        store.find_session(&TokenDigest([0; 32])).await.unwrap(),
        Some(unusual)
    );
    assert_eq!(store.find_session(&TokenDigest::of("s")).await.unwrap(), None);
    assert!(store.delete_session(&TokenDigest::of("old")).await.unwrap());
    assert!(!store.delete_session(&TokenDigest::of("old")).await.unwrap());
    assert_eq!(store.find_session(&TokenDigest::of("old")).await.unwrap(), None);
    assert!(store.find_session(&TokenDigest([0; 32])).await.unwrap().is_some());
}

async fn api_keys_are_found_by_digest_revoked_once_and_touched_at_most_once_a_minute(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let unusual = ApiKeyRecord {
        id: "ü-key".into(),
        organization_id: "o1".into(),
        name: long_text(),
        scopes: vec![],
        key_digest: TokenDigest([7; 32]),
        created_at: i64::MIN,
        last_used_at: Some(i64::MAX),
        revoked_at: Some(-1),
    };
    store.insert_api_key(&api_key("k2", "o1", 10)).await.unwrap();
    store.insert_api_key(&api_key("k1", "o1", 10)).await.unwrap();
    store.insert_api_key(&api_key("k3", "o2", 5)).await.unwrap();
    store.insert_api_key(&unusual).await.unwrap();
    let same_digest = ApiKeyRecord {
        id: "k9".into(),
        ..api_key("k1", "o1", 1)
    };
    assert!(
        is_conflict(store.insert_api_key(&same_digest).await),
        "digests are unique"
    );
    let same_id = ApiKeyRecord {
        key_digest: TokenDigest::of("fresh"),
        ..api_key("k1", "o2", 1)
    };
    assert!(
        is_conflict(store.insert_api_key(&same_id).await),
        "ids are unique"
    );
    assert!(is_missing_reference(
        store.insert_api_key(&api_key("k8", "nowhere", 1)).await
    ));

    assert_eq!(
        store.find_api_key(&TokenDigest::of("api-key-k1")).await.unwrap(),
        Some(api_key("k1", "o1", 10))
    );
    assert_eq!(
        store.find_api_key(&TokenDigest([7; 32])).await.unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(store.find_api_key(&TokenDigest::of("other")).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys("o1").await.unwrap(),
        vec![unusual.clone(), api_key("k1", "o1", 10), api_key("k2", "o1", 10)],
        "oldest first, then by id, revoked ones included"
    );
    assert_eq!(
        store.list_api_keys("o2").await.unwrap(),
        vec![api_key("k3", "o2", 5)]
    );
    assert!(store.list_api_keys("o9").await.unwrap().is_empty());

    // Revocation: only within the key's organization, only once.
    assert!(
        !store.revoke_api_key("o2", "k1", 50).await.unwrap(),
        "another organization's key"
    );
    assert!(store.revoke_api_key("o1", "k1", 50).await.unwrap());
    assert!(
        !store.revoke_api_key("o1", "k1", 60).await.unwrap(),
        "already revoked"
    );
    assert!(
        !store.revoke_api_key("o1", "ü-key", 60).await.unwrap(),
        "inserted revoked"
    );
    assert!(!store.revoke_api_key("o1", "missing", 60).await.unwrap());
    let revoked = store
        .find_api_key(&TokenDigest::of("api-key-k1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked,
        ApiKeyRecord {
            revoked_at: Some(50),
            ..api_key("k1", "o1", 10)
        }
    );
    assert_eq!(
        store
            .find_api_key(&TokenDigest::of("api-key-k3"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    // A use is written when the last one is more than 60 s before.
    let last_used = |store: std::sync::Arc<dyn latchkey::store::Store>| async move {
        store
            .find_api_key(&TokenDigest::of("api-key-k2"))
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    store.touch_api_key("k2", 1_000).await.unwrap();
    assert_eq!(
        last_used(store.clone()).await,
        Some(1_000),
        "the first use is written"
    );
    store.touch_api_key("k2", 1_030).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(1_000));
    store.touch_api_key("k2", 1_060).await.unwrap();
    assert_eq!(
        last_used(store.clone()).await,
        Some(1_000),
        "exactly 60 s later is not written"
    );
    store.touch_api_key("k2", 1_061).await.unwrap();
    assert_eq!(last_used(store.clone()).await, Some(1_061));
    store.touch_api_key("missing", 1_061).await.unwrap();
    let k3 = store
        .find_api_key(&TokenDigest::of("api-key-k3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k3.last_used_at, None, "only the key touched");
}

async fn a_subject_is_the_user_the_organization_and_the_role_there(backend: Backend) {
    let (store, _db) = open(backend).await;
    let alice = UserRecord {
        email_verified: true,
        ..user("u1", "alice@example.com")
    };
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&user("u2", "bob@example.com")).await.unwrap();
    let acme = organization("o1", ODD_TEXT);
    store.insert_organization(&acme).await.unwrap();
    store
        .insert_organization(&organization("o2", "Birch"))
        .await
        .unwrap();
    store
        .upsert_membership(&membership("o1", "u1", "FIRM_ADMIN"))
        .await
        .unwrap();
    store
        .upsert_membership(&membership("o2", "u2", "member"))
        .await
        .unwrap();

    assert_eq!(
        store.find_subject("u1", "o1").await.unwrap(),
        Some(SubjectRecord {
            user: alice.clone(),
            organization: acme,
            role: Some("FIRM_ADMIN".into()),
        })
    );
    // Not a member (any more): the user and organization, without a role.
    let outside = store.find_subject("u1", "o2").await.unwrap().unwrap();
    assert_eq!(outside.user, alice);
    assert_eq!(outside.organization.name, "Birch");
    assert_eq!(outside.role, None);
    assert_eq!(store.find_subject("nobody", "o1").await.unwrap(), None);
    assert_eq!(store.find_subject("u1", "nowhere").await.unwrap(), None);
    store.delete_organization("o1").await.unwrap();
    assert_eq!(store.find_subject("u1", "o1").await.unwrap(), None);
}

async fn a_users_live_sessions_list_most_recently_used_first(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    assert!(store.list_user_sessions("u1", 100).await.unwrap().is_empty());
    let mut used_late = session("late", "u1", 1_000);
    used_late.last_seen_at = Some(500);
    let mut used_early = session("early", "u1", 1_000);
    used_early.created_at = 20;
    used_early.last_seen_at = Some(200);
    // Never touched: its creation (300) is its last use.
    let mut untouched = session("untouched", "u1", 1_000);
    untouched.created_at = 300;
    untouched.user_agent = None;
    let expired = session("expired", "u1", 100);
    let edge = session("edge", "u1", 101);
    for s in [
        &used_early,
        &untouched,
        &used_late,
        &expired,
        &edge,
        &session("theirs", "u2", 1_000),
    ] {
        store.insert_session(s).await.unwrap();
    }

    let listed = store.list_user_sessions("u1", 100).await.unwrap();
    assert_eq!(listed, vec![used_late.clone(), untouched, used_early, edge]);
    // Expiry is exclusive: a session expiring at `now` is over.
    let later = store.list_user_sessions("u1", 101).await.unwrap();
    assert_eq!(later.len(), 3);
    assert_eq!(store.list_user_sessions("nobody", 100).await.unwrap(), vec![]);
    assert_eq!(
        listed[0].user_agent, used_late.user_agent,
        "the user agent round-trips"
    );
}

async fn a_session_use_is_recorded_at_most_once_a_minute(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_session(&session("s", "u1", 100_000)).await.unwrap(); // created at 10
    let digest = TokenDigest::of("s");
    let last_seen = |store: std::sync::Arc<dyn latchkey::store::Store>| async move {
        store
            .find_session(&TokenDigest::of("s"))
            .await
            .unwrap()
            .unwrap()
            .last_seen_at
    };

    // Before any recorded use, the creation counts as the last one.
    assert!(!store.touch_session(&digest, 69).await.unwrap());
    assert_eq!(last_seen(store.clone()).await, None);
    assert!(store.touch_session(&digest, 70).await.unwrap());
    assert_eq!(last_seen(store.clone()).await, Some(70));
    // Within the minute after: nothing written.
    for now in [70, 100, 129] {
        assert!(!store.touch_session(&digest, now).await.unwrap(), "{now}");
    }
    assert_eq!(last_seen(store.clone()).await, Some(70));
    // A minute on: written.
    assert!(store.touch_session(&digest, 130).await.unwrap());
    assert_eq!(last_seen(store.clone()).await, Some(130));
    assert!(store.touch_session(&digest, 10_000).await.unwrap());
    assert_eq!(last_seen(store.clone()).await, Some(10_000));
    // An unknown session: nothing to write.
    assert!(
        !store
            .touch_session(&TokenDigest::of("other"), 20_000)
            .await
            .unwrap()
    );
}

async fn a_session_is_deleted_by_its_user_only(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    store.insert_session(&session("mine", "u1", 1_000)).await.unwrap();
    store
        .insert_session(&session("theirs", "u2", 1_000))
        .await
        .unwrap();

    assert!(
        !store
            .delete_user_session("u1", &TokenDigest::of("theirs"))
            .await
            .unwrap()
    );
    assert!(
        store
            .find_session(&TokenDigest::of("theirs"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !store
            .delete_user_session("u1", &TokenDigest::of("unknown"))
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_user_session("u1", &TokenDigest::of("mine"))
            .await
            .unwrap()
    );
    assert_eq!(store.find_session(&TokenDigest::of("mine")).await.unwrap(), None);
    assert!(
        !store
            .delete_user_session("u1", &TokenDigest::of("mine"))
            .await
            .unwrap()
    );
}

async fn all_other_sessions_of_a_user_are_deleted_in_one_go(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "u1@example.com")).await.unwrap();
    store.insert_user(&user("u2", "u2@example.com")).await.unwrap();
    for (value, user_id) in [
        ("keep", "u1"),
        ("a", "u1"),
        ("b", "u1"),
        ("old", "u1"),
        ("theirs", "u2"),
    ] {
        let expires_at = if value == "old" { 5 } else { 1_000 };
        store
            .insert_session(&session(value, user_id, expires_at))
            .await
            .unwrap();
    }
    let keep = TokenDigest::of("keep");
    // Expired ones go too.
    assert_eq!(store.delete_other_sessions("u1", &keep).await.unwrap(), 3);
    assert!(store.find_session(&keep).await.unwrap().is_some());
    for gone in ["a", "b", "old"] {
        assert_eq!(store.find_session(&TokenDigest::of(gone)).await.unwrap(), None);
    }
    assert!(
        store
            .find_session(&TokenDigest::of("theirs"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.delete_other_sessions("u1", &keep).await.unwrap(), 0);
    // A digest that is none of the user's sessions keeps nothing.
    assert_eq!(
        store
            .delete_other_sessions("u2", &TokenDigest::of("keep"))
            .await
            .unwrap(),
        1
    );
    assert!(store.find_session(&keep).await.unwrap().is_some());
}
