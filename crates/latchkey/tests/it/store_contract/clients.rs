//! Clients and their scope reviews: round trips, what each update writes
//! and leaves, the cascades of deleting and disabling a client, and the
//! atomicity of the methods that write a client with its reviews.

use std::sync::Arc;

use latchkey::oauth::grant_type::GrantType;
use latchkey::secret::TokenDigest;
use latchkey::store::ScopeReviewStatus::{Denied, Pending};
use latchkey::store::{ClientRecord, ScopeReviewRecord};

use super::{
    ODD_TEXT, client, exchanged_grant, grant, is_conflict, is_missing_reference, long_text, open,
    organization, refresh, review, seed, strings,
};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    clients_round_trip_and_update_only_what_each_method_names,
    clients_list_oldest_first_then_by_id,
    organization_clients_list_only_that_organizations_clients,
    deleting_a_client_removes_its_grants_codes_consents_and_reviews,
    disabling_a_client_revokes_its_grants_and_ends_their_tokens,
    scope_reviews_are_written_with_their_client_and_decided_once,
    scope_reviews_round_trip_and_list_in_request_order,
    writing_a_client_with_reviews_is_all_or_nothing,
    of_concurrent_approvals_of_one_scope_exactly_one_succeeds,
);

/// A client with every field away from the defaults: unicode and long
/// text, extreme timestamps, an owning organization.
fn unusual_client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        secret_digest: Some(TokenDigest([0xff; 32])),
        name: ODD_TEXT.into(),
        description: long_text(),
        homepage_url: Some("https://例え.example/ホーム?q=1&r=%20".into()),
        logo_url: Some("https://cdn.example/logo.png".into()),
        redirect_uris: vec![
            "https://app.example/cb?x=\"y\"".into(),
            "com.example.app:/cb".into(),
        ],
        allowed_scopes: vec![],
        token_endpoint_auth_method: "none".into(),
        organization_id: Some("o1".into()),
        grant_types: vec![GrantType::ClientCredentials],
        id_token_signed_response_alg: Some(latchkey::keys::Alg::EdDsa),
        enabled: false,
        created_at: i64::MIN,
        updated_at: i64::MAX,
        origin: latchkey::store::ClientOrigin::Dynamic,
    }
}

async fn clients_round_trip_and_update_only_what_each_method_names(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_organization(&organization("o1", "Acme"))
        .await
        .unwrap();
    let original = client("c1");
    store.insert_client(&original).await.unwrap();
    assert!(is_conflict(store.insert_client(&original).await));
    assert!(
        is_conflict(store.insert_client(&unusual_client("c1")).await),
        "the client id alone is unique"
    );
    assert_eq!(store.find_client("c1").await.unwrap(), Some(original.clone()));
    assert_eq!(store.find_client("c2").await.unwrap(), None);
    assert_eq!(
        store.find_client("C1").await.unwrap(),
        None,
        "ids are case-sensitive"
    );

    let unusual = unusual_client("ünïcode-✓");
    store.insert_client(&unusual).await.unwrap();
    assert_eq!(
        store.find_client("ünïcode-✓").await.unwrap(),
        Some(unusual.clone())
    );
    let mut public = client("c2");
    public.secret_digest = None;
    public.homepage_url = None;
    store.insert_client(&public).await.unwrap();
    assert_eq!(store.find_client("c2").await.unwrap(), Some(public));
    let mut orphan = client("c3");
    orphan.organization_id = Some("nowhere".into());
    assert!(is_missing_reference(store.insert_client(&orphan).await));
    assert_eq!(store.find_client("c3").await.unwrap(), None);

    // Descriptive fields, the ID token algorithm, the owner and the grant
    // types only: never the secret, the enabled flag, the authentication
    // method or the creation time.
    let mut edited = unusual_client("c1");
    edited.name = "Renamed".into();
    edited.updated_at = 150;
    assert!(store.update_client_details(&edited).await.unwrap());
    let expected = ClientRecord {
        name: "Renamed".into(),
        description: edited.description.clone(),
        homepage_url: edited.homepage_url.clone(),
        logo_url: edited.logo_url.clone(),
        redirect_uris: edited.redirect_uris.clone(),
        allowed_scopes: vec![],
        id_token_signed_response_alg: edited.id_token_signed_response_alg,
        organization_id: edited.organization_id.clone(),
        grant_types: edited.grant_types.clone(),
        updated_at: 150,
        origin: Default::default(),
        ..original.clone()
    };
    assert_eq!(store.find_client("c1").await.unwrap(), Some(expected.clone()));
    let mut cleared = expected.clone();
    cleared.homepage_url = None;
    cleared.logo_url = None;
    cleared.updated_at = 155;
    assert!(store.update_client_details(&cleared).await.unwrap());
    assert_eq!(store.find_client("c1").await.unwrap(), Some(cleared.clone()));
    assert!(!store.update_client_details(&client("missing")).await.unwrap());
    assert_eq!(store.find_client("missing").await.unwrap(), None);

    let new_secret = TokenDigest::of("new");
    assert!(store.set_client_secret("c1", &new_secret, 160).await.unwrap());
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert_eq!(
        found,
        ClientRecord {
            secret_digest: Some(new_secret),
            updated_at: 160,
            origin: Default::default(),
            ..cleared.clone()
        }
    );
    assert!(
        !store
            .set_client_secret("missing", &new_secret, 160)
            .await
            .unwrap()
    );

    assert!(store.set_client_enabled("c1", false, 170).await.unwrap());
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert_eq!((found.enabled, found.updated_at), (false, 170));
    assert!(
        store.set_client_enabled("c1", false, 175).await.unwrap(),
        "true means the client exists, changed or not"
    );
    assert!(store.set_client_enabled("c1", true, 180).await.unwrap());
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert_eq!((found.enabled, found.updated_at), (true, 180));
    assert_eq!(
        found.secret_digest,
        Some(new_secret),
        "enabling leaves the secret"
    );
    assert!(!store.set_client_enabled("missing", false, 170).await.unwrap());
    assert!(!store.set_client_enabled("missing", true, 170).await.unwrap());

    assert!(store.delete_client("c1").await.unwrap());
    assert!(!store.delete_client("c1").await.unwrap());
    assert_eq!(store.find_client("c1").await.unwrap(), None);
    assert!(
        store.find_client("ünïcode-✓").await.unwrap().is_some(),
        "others stay"
    );
}

async fn clients_list_oldest_first_then_by_id(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(store.list_clients().await.unwrap().is_empty());
    for (id, created_at) in [("b", 200), ("z", 100), ("a", 200), ("m", -5)] {
        let mut record = client(id);
        record.created_at = created_at;
        store.insert_client(&record).await.unwrap();
    }
    let listed = store.list_clients().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(ids, ["m", "z", "a", "b"]);
    assert_eq!(listed[1], client("z"), "listed records are whole");
}

async fn organization_clients_list_only_that_organizations_clients(backend: Backend) {
    let (store, _db) = open(backend).await;
    for id in ["o1", "o2"] {
        store.insert_organization(&organization(id, id)).await.unwrap();
    }
    for (id, owner, created_at) in [
        ("late", Some("o1"), 300),
        ("early", Some("o1"), 100),
        ("tie-b", Some("o1"), 200),
        ("tie-a", Some("o1"), 200),
        ("other", Some("o2"), 50),
        ("nobody", None, 10),
    ] {
        let mut record = client(id);
        record.organization_id = owner.map(str::to_owned);
        record.created_at = created_at;
        store.insert_client(&record).await.unwrap();
    }
    let listed = |owner: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_organization_clients(owner)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.client_id)
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        listed("o1").await,
        ["early", "tie-a", "tie-b", "late"],
        "oldest first, then by id"
    );
    assert_eq!(listed("o2").await, ["other"]);
    assert!(listed("o3").await.is_empty());
    let other = store.list_organization_clients("o2").await.unwrap();
    assert_eq!(other[0].organization_id.as_deref(), Some("o2"));
    assert_eq!(other[0].created_at, 50);
}

/// The schema cascades a client's grants (and through them their refresh
/// tokens), codes, consents and scope reviews; another client's stay.
async fn deleting_a_client_removes_its_grants_codes_consents_and_reviews(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_client(&client("c2")).await.unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    store
        .insert_authorization_code(&super::code("pending"))
        .await
        .unwrap();
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    store
        .update_client_with_reviews(&client("c1"), &[review("c1", "cases:write", 5)])
        .await
        .unwrap();
    // What hangs off c2 must survive.
    let mut other_code = super::code("other");
    other_code.client_id = "c2".into();
    store.insert_authorization_code(&other_code).await.unwrap();
    store
        .upsert_consent("u1", "o1", "c2", &strings(&["openid"]), 10)
        .await
        .unwrap();
    store
        .update_client_with_reviews(&client("c2"), &[review("c2", "cases:write", 5)])
        .await
        .unwrap();

    assert!(store.delete_client("c1").await.unwrap());
    assert_eq!(store.find_grant("g1").await.unwrap(), None);
    assert_eq!(
        store.find_refresh_token(&TokenDigest::of("r1")).await.unwrap(),
        None
    );
    assert!(!store.access_token_is_live("g1", "jti").await.unwrap());
    assert_eq!(
        store
            .find_authorization_code(&TokenDigest::of("pending"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_authorization_code(&TokenDigest::of("code-for-g1"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.find_consent("u1", "o1", "c1").await.unwrap(), None);
    assert!(store.list_client_consents("u1", "c1").await.unwrap().is_empty());
    assert!(store.list_client_scope_reviews("c1").await.unwrap().is_empty());
    assert_eq!(store.find_scope_review("c1", "cases:write").await.unwrap(), None);

    assert!(
        store
            .find_authorization_code(&TokenDigest::of("other"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.find_consent("u1", "o1", "c2").await.unwrap().is_some());
    assert_eq!(store.list_client_scope_reviews("c2").await.unwrap().len(), 1);
    let apps = store.list_connected_apps("u1").await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id, "c2");
    assert_eq!(
        store.list_memberships("u1").await.unwrap().len(),
        2,
        "people stay"
    );
}

/// Disabling a client revokes its live grants at that time (earlier
/// revocations keep their time) and deletes their refresh tokens, so its
/// access tokens stop being live at once; enabling it again brings none
/// back. Another client's grants are untouched.
async fn disabling_a_client_revokes_its_grants_and_ends_their_tokens(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_client(&client("c2")).await.unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    exchanged_grant(store.as_ref(), "g2", "r2").await;
    assert!(store.revoke_grant("g2", 1_500).await.unwrap());
    let mut other = grant("g3");
    other.client_id = "c2".into();
    let mut other_code = super::code("c2-code");
    other_code.client_id = "c2".into();
    store.insert_authorization_code(&other_code).await.unwrap();
    store
        .exchange_authorization_code(
            &TokenDigest::of("c2-code"),
            &other,
            Some(&refresh("r3", "g3")),
            1_010,
        )
        .await
        .unwrap();
    assert!(store.access_token_is_live("g1", "jti-1").await.unwrap());

    assert!(store.set_client_enabled("c1", false, 2_000).await.unwrap());
    assert!(!store.access_token_is_live("g1", "jti-1").await.unwrap());
    assert_eq!(
        store.find_grant("g1").await.unwrap().unwrap().revoked_at,
        Some(2_000)
    );
    assert_eq!(
        store.find_grant("g2").await.unwrap().unwrap().revoked_at,
        Some(1_500),
        "an earlier revocation keeps its time"
    );
    assert_eq!(
        store.find_refresh_token(&TokenDigest::of("r1")).await.unwrap(),
        None
    );
    assert!(store.access_token_is_live("g3", "jti-3").await.unwrap());
    assert!(
        store
            .find_refresh_token(&TokenDigest::of("r3"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(!store.revoke_grant("g1", 2_100).await.unwrap(), "already revoked");

    assert!(store.set_client_enabled("c1", true, 3_000).await.unwrap());
    assert!(!store.access_token_is_live("g1", "jti-1").await.unwrap());
    assert_eq!(
        store.find_grant("g1").await.unwrap().unwrap().revoked_at,
        Some(2_000)
    );
}

/// Reviews are inserted and replaced with their client in one transaction,
/// listed per client and per status, approved exactly once (the scope
/// joins the allowed ones) or denied with a reason, and go with the client.
async fn scope_reviews_are_written_with_their_client_and_decided_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    let app = client("reviewed");
    let reviews = [
        review("reviewed", "cases:write", 100),
        review("reviewed", "invoices:write", 101),
    ];
    store.insert_client_with_reviews(&app, &reviews).await.unwrap();
    assert_eq!(store.find_client("reviewed").await.unwrap(), Some(app.clone()));
    assert!(is_conflict(
        store.insert_client_with_reviews(&app, &reviews).await
    ));
    assert_eq!(
        store.list_client_scope_reviews("reviewed").await.unwrap(),
        reviews.to_vec()
    );
    let pending = store.list_scope_reviews(Pending).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].review, reviews[0]);
    assert_eq!(pending[0].client_name, "App");
    assert_eq!(
        (
            pending[0].organization_id.as_deref(),
            pending[0].organization_name.as_deref()
        ),
        (None, None)
    );

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
    assert_eq!(store.find_client("reviewed").await.unwrap(), Some(edited.clone()));
    assert_eq!(
        store.list_client_scope_reviews("reviewed").await.unwrap(),
        reviews[..1].to_vec()
    );
    assert_eq!(
        store
            .find_scope_review("reviewed", "invoices:write")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_scope_review("reviewed", "cases:write").await.unwrap(),
        Some(reviews[0].clone())
    );
    assert_eq!(
        store.find_scope_review("other", "cases:write").await.unwrap(),
        None
    );

    // Approve: the review goes, the allowed scopes are written as given.
    let allowed = strings(&["openid", "cases:read", "cases:write"]);
    assert!(
        store
            .approve_scope("reviewed", "cases:write", &allowed, 300)
            .await
            .unwrap()
    );
    assert!(
        !store
            .approve_scope("reviewed", "cases:write", &allowed, 301)
            .await
            .unwrap()
    );
    let found = store.find_client("reviewed").await.unwrap().unwrap();
    assert_eq!((found.allowed_scopes, found.updated_at), (allowed.clone(), 300));
    assert_eq!(
        store.find_scope_review("reviewed", "cases:write").await.unwrap(),
        None
    );
    assert!(
        !store
            .approve_scope("nobody", "cases:write", &allowed, 300)
            .await
            .unwrap()
    );

    // Deny with a reason; denying again rewrites the reason.
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
    assert!(
        !store
            .deny_scope("nobody", "invoices:write", "x", 500)
            .await
            .unwrap()
    );
    let denied = store
        .find_scope_review("reviewed", "invoices:write")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        denied,
        ScopeReviewRecord {
            status: Denied,
            reason: Some("not for this app".into()),
            decided_at: Some(500),
            ..review("reviewed", "invoices:write", 400)
        }
    );
    assert_eq!(store.list_scope_reviews(Denied).await.unwrap().len(), 1);
    assert!(store.list_scope_reviews(Pending).await.unwrap().is_empty());
    assert!(
        store
            .deny_scope("reviewed", "invoices:write", ODD_TEXT, 600)
            .await
            .unwrap()
    );
    let denied = store
        .find_scope_review("reviewed", "invoices:write")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (denied.reason.as_deref(), denied.decided_at),
        (Some(ODD_TEXT), Some(600))
    );

    // A denied scope can still be approved: the review goes either way.
    let allowed = strings(&["openid", "invoices:write"]);
    assert!(
        store
            .approve_scope("reviewed", "invoices:write", &allowed, 700)
            .await
            .unwrap()
    );
    assert!(store.list_scope_reviews(Denied).await.unwrap().is_empty());
    assert_eq!(
        store
            .find_client("reviewed")
            .await
            .unwrap()
            .unwrap()
            .allowed_scopes,
        allowed
    );

    // Deleting the client deletes its reviews.
    store
        .update_client_with_reviews(&edited, &[review("reviewed", "x", 800)])
        .await
        .unwrap();
    assert!(store.delete_client("reviewed").await.unwrap());
    assert!(
        store
            .list_client_scope_reviews("reviewed")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_scope_reviews(Pending).await.unwrap().is_empty());
}

/// Every field of a review survives, and the lists are ordered: a
/// client's by request time then scope, a status's by request time, then
/// client id, then scope, each with its client's and organization's names.
async fn scope_reviews_round_trip_and_list_in_request_order(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_organization(&organization("o1", ODD_TEXT))
        .await
        .unwrap();
    let mut owned = client("b-owned");
    owned.organization_id = Some("o1".into());
    owned.name = "Owned ✓".into();
    let decided = ScopeReviewRecord {
        client_id: "b-owned".into(),
        scope: "ünïcode:scope".into(),
        status: Denied,
        reason: Some(long_text()),
        requested_at: i64::MIN,
        decided_at: Some(i64::MAX),
    };
    store
        .insert_client_with_reviews(
            &owned,
            &[
                review("b-owned", "z", 10),
                review("b-owned", "a", 10),
                decided.clone(),
                review("b-owned", "early", 5),
            ],
        )
        .await
        .unwrap();
    store
        .insert_client_with_reviews(&client("a-plain"), &[review("a-plain", "z", 10)])
        .await
        .unwrap();
    store
        .insert_client_with_reviews(&client("empty"), &[])
        .await
        .unwrap();
    assert!(store.list_client_scope_reviews("empty").await.unwrap().is_empty());

    assert_eq!(
        store.find_scope_review("b-owned", "ünïcode:scope").await.unwrap(),
        Some(decided.clone())
    );
    let scopes: Vec<String> = store
        .list_client_scope_reviews("b-owned")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.scope)
        .collect();
    assert_eq!(scopes, ["ünïcode:scope", "early", "a", "z"]);

    let pending = store.list_scope_reviews(Pending).await.unwrap();
    let keys: Vec<(&str, &str)> = pending
        .iter()
        .map(|l| (l.review.client_id.as_str(), l.review.scope.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("b-owned", "early"),
            ("a-plain", "z"),
            ("b-owned", "a"),
            ("b-owned", "z")
        ]
    );
    assert_eq!(pending[0].client_name, "Owned ✓");
    assert_eq!(pending[0].organization_id.as_deref(), Some("o1"));
    assert_eq!(pending[0].organization_name.as_deref(), Some(ODD_TEXT));
    assert_eq!(
        (
            pending[1].organization_id.as_deref(),
            pending[1].organization_name.as_deref()
        ),
        (None, None)
    );
    let denied = store.list_scope_reviews(Denied).await.unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].review, decided);
}

/// A failed write of a client with its reviews leaves nothing behind:
/// neither the client nor any review, nor (for an update) any change.
async fn writing_a_client_with_reviews_is_all_or_nothing(backend: Backend) {
    let (store, _db) = open(backend).await;
    let app = client("c1");

    // The same scope twice: the second review collides after the client
    // and the first review were written.
    let twice = [review("c1", "cases:write", 1), review("c1", "cases:write", 2)];
    assert!(is_conflict(store.insert_client_with_reviews(&app, &twice).await));
    assert_eq!(store.find_client("c1").await.unwrap(), None);
    assert!(store.list_scope_reviews(Pending).await.unwrap().is_empty());
    // A review of a client that does not exist.
    let stray = [review("c1", "cases:write", 1), review("ghost", "x", 2)];
    assert!(is_missing_reference(
        store.insert_client_with_reviews(&app, &stray).await
    ));
    assert_eq!(store.find_client("c1").await.unwrap(), None);
    assert!(store.list_scope_reviews(Pending).await.unwrap().is_empty());

    let kept = [review("c1", "invoices:write", 1)];
    store.insert_client_with_reviews(&app, &kept).await.unwrap();
    let mut edited = app.clone();
    edited.name = "Edited".into();
    edited.updated_at = 500;
    assert!(is_conflict(
        store.update_client_with_reviews(&edited, &twice).await
    ));
    assert_eq!(
        store.find_client("c1").await.unwrap(),
        Some(app.clone()),
        "details unchanged"
    );
    assert_eq!(
        store.list_client_scope_reviews("c1").await.unwrap(),
        kept.to_vec(),
        "reviews unchanged"
    );

    // No such client: `false`, and not even the reviews given are written.
    store.insert_client(&client("c2")).await.unwrap();
    assert!(
        !store
            .update_client_with_reviews(&client("ghost"), &[review("c2", "cases:write", 3)])
            .await
            .unwrap()
    );
    assert!(store.list_client_scope_reviews("c2").await.unwrap().is_empty());

    // Replacing with no reviews clears them.
    assert!(store.update_client_with_reviews(&edited, &[]).await.unwrap());
    assert!(store.list_client_scope_reviews("c1").await.unwrap().is_empty());
    assert_eq!(store.find_client("c1").await.unwrap(), Some(edited));
}

/// Of eight concurrent approvals of one reviewed scope exactly one gets
/// `true`, and its allowed scopes are the ones written.
async fn of_concurrent_approvals_of_one_scope_exactly_one_succeeds(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_client_with_reviews(&client("c1"), &[review("c1", "cases:write", 1)])
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let allowed = vec!["openid".to_owned(), format!("winner-{i}")];
                store
                    .approve_scope("c1", "cases:write", &allowed, 10 + i)
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
    assert_eq!(winners.len(), 1, "exactly one approval wins");
    let found = store.find_client("c1").await.unwrap().unwrap();
    assert_eq!(
        found.allowed_scopes,
        ["openid".to_owned(), format!("winner-{}", winners[0])]
    );
    assert_eq!(found.updated_at, 10 + winners[0] as i64);
    assert_eq!(store.find_scope_review("c1", "cases:write").await.unwrap(), None);
}
