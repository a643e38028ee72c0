//! The audit log, the example API's records (cases, customers, invoices)
//! with their cursor pagination, and `purge_expired`: what it deletes,
//! what it counts, and what it leaves.

use latchkey::secret::TokenDigest;
use latchkey::store::{
    AuditEvent, AuthorizationCodeRecord, CaseRecord, CustomerRecord, GrantRecord, InvoiceRecord, PageRequest,
    PurgeCounts, RefreshTokenRecord, SessionRecord, Store,
};
use serde_json::json;

use super::{ODD_TEXT, code, grant, is_conflict, is_missing_reference, long_text, open, refresh, seed};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    audit_events_round_trip_and_list_newest_first,
    cases_page_in_id_order_within_their_organization,
    customers_and_invoices_round_trip_within_their_organization,
    purging_removes_only_what_expired_and_counts_it,
);

fn event(id: &str, occurred_at: i64) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        occurred_at,
        actor: "system".into(),
        action: "grant.revoked".into(),
        client_id: None,
        user_id: None,
        organization_id: None,
        grant_id: None,
        details: json!({}),
    }
}

/// Time-ordered ids like the UUID v7 ones the API creates.
fn id(n: u32) -> String {
    format!("0192d4e0-7b1a-7c3e-9f00-{n:012x}")
}

async fn audit_events_round_trip_and_list_newest_first(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(store.list_audit_events(10).await.unwrap().is_empty());
    let full = AuditEvent {
        id: "e-full".into(),
        occurred_at: 50,
        actor: "user:ü".into(),
        action: ODD_TEXT.into(),
        client_id: Some("c1".into()),
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
        grant_id: Some("g1".into()),
        details: json!({
            "scopes": ["openid", ODD_TEXT],
            "nested": {"n": null, "t": true, "f": 1.5, "big": u64::MAX, "small": i64::MIN},
            "long": long_text(),
            "empty": [],
        }),
    };
    let extremes = [event("e-min", i64::MIN), event("e-max", i64::MAX)];
    store.insert_audit_event(&full).await.unwrap();
    for e in &extremes {
        store.insert_audit_event(e).await.unwrap();
    }
    store.insert_audit_event(&event("e-b", 50)).await.unwrap();
    store.insert_audit_event(&event("e-a", 50)).await.unwrap();
    let scalar = AuditEvent {
        details: json!("just text"),
        ..event("e-scalar", 10)
    };
    store.insert_audit_event(&scalar).await.unwrap();
    assert!(is_conflict(store.insert_audit_event(&event("e-a", 1)).await));

    let listed = store.list_audit_events(100).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["e-max", "e-full", "e-b", "e-a", "e-scalar", "e-min"],
        "newest first, then id descending"
    );
    assert_eq!(listed[1], full);
    assert_eq!(listed[0], extremes[1]);
    assert_eq!(listed[4], scalar);
    assert_eq!(listed[5], extremes[0]);
    let first_two: Vec<String> = store
        .list_audit_events(2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(first_two, ["e-max", "e-full"]);
    assert!(store.list_audit_events(0).await.unwrap().is_empty());
}

async fn cases_page_in_id_order_within_their_organization(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let case = |n: u32, organization_id: &str| CaseRecord {
        id: id(n),
        organization_id: organization_id.into(),
        title: format!("case {n}"),
        status: "open".into(),
        created_at: i64::from(n),
    };
    // Inserted out of order; o2 has ids in between.
    for n in [5, 1, 3, 2, 4] {
        store.insert_case(&case(n * 10, "o1")).await.unwrap();
    }
    store.insert_case(&case(25, "o2")).await.unwrap();
    let unusual = CaseRecord {
        id: id(60),
        organization_id: "o1".into(),
        title: long_text(),
        status: ODD_TEXT.into(),
        created_at: i64::MIN,
    };
    store.insert_case(&unusual).await.unwrap();
    assert!(is_conflict(store.insert_case(&case(10, "o1")).await));
    assert!(
        is_conflict(store.insert_case(&case(10, "o2")).await),
        "ids are unique across organizations"
    );
    assert!(is_missing_reference(
        store.insert_case(&case(99, "nowhere")).await
    ));

    assert_eq!(
        store.find_case("o1", &id(30)).await.unwrap(),
        Some(case(30, "o1"))
    );
    assert_eq!(
        store.find_case("o1", &id(60)).await.unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(
        store.find_case("o2", &id(30)).await.unwrap(),
        None,
        "another organization's case"
    );
    assert_eq!(store.find_case("o1", &id(25)).await.unwrap(), None);
    assert_eq!(store.find_case("o1", &id(99)).await.unwrap(), None);

    let page = |after: Option<String>, limit: i64| {
        let store = store.clone();
        async move {
            let page = PageRequest {
                after: after.as_deref(),
                limit,
            };
            store
                .list_cases("o1", page)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2).await, [id(10), id(20)]);
    assert_eq!(page(Some(id(20)), 2).await, [id(30), id(40)]);
    assert_eq!(page(Some(id(40)), 2).await, [id(50), id(60)]);
    assert!(page(Some(id(60)), 2).await.is_empty());
    assert_eq!(
        page(Some(id(25)), 2).await,
        [id(30), id(40)],
        "the cursor need not be a case of this organization"
    );
    assert_eq!(
        page(None, 100).await,
        [id(10), id(20), id(30), id(40), id(50), id(60)]
    );
    assert!(page(None, 0).await.is_empty());
    let all = store
        .list_cases(
            "o1",
            PageRequest {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(all[2], case(30, "o1"));
    assert_eq!(all[5], unusual);
    let other = store
        .list_cases(
            "o2",
            PageRequest {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(other, vec![case(25, "o2")]);
    assert!(
        store
            .list_cases(
                "o9",
                PageRequest {
                    after: None,
                    limit: 100
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
}

/// Customers round trip and page like cases. Invoices have no reader: an
/// insert succeeds, collides, or names a missing customer or
/// organization, and goes with its organization (its id is free again).
async fn customers_and_invoices_round_trip_within_their_organization(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let customer = |n: u32, organization_id: &str| CustomerRecord {
        id: id(n),
        organization_id: organization_id.into(),
        name: format!("customer {n}"),
        email: Some(format!("c{n}@example.com")),
        created_at: i64::from(n),
    };
    let unusual = CustomerRecord {
        id: id(5),
        organization_id: "o1".into(),
        name: ODD_TEXT.into(),
        email: None,
        created_at: i64::MAX,
    };
    for n in [3, 1, 2] {
        store.insert_customer(&customer(n, "o1")).await.unwrap();
    }
    store.insert_customer(&unusual).await.unwrap();
    store.insert_customer(&customer(4, "o2")).await.unwrap();
    assert!(is_conflict(store.insert_customer(&customer(1, "o2")).await));
    assert!(is_missing_reference(
        store.insert_customer(&customer(9, "nowhere")).await
    ));

    assert_eq!(
        store.find_customer("o1", &id(2)).await.unwrap(),
        Some(customer(2, "o1"))
    );
    assert_eq!(
        store.find_customer("o1", &id(5)).await.unwrap(),
        Some(unusual.clone())
    );
    assert_eq!(
        store.find_customer("o2", &id(2)).await.unwrap(),
        None,
        "another organization's customer"
    );
    assert_eq!(store.find_customer("o1", &id(9)).await.unwrap(), None);
    let list = |after: Option<String>, limit: i64| {
        let store = store.clone();
        async move {
            let page = PageRequest {
                after: after.as_deref(),
                limit,
            };
            store.list_customers("o1", page).await.unwrap()
        }
    };
    assert_eq!(list(None, 2).await, vec![customer(1, "o1"), customer(2, "o1")]);
    assert_eq!(list(Some(id(2)), 2).await, vec![customer(3, "o1"), unusual]);
    assert!(list(Some(id(5)), 2).await.is_empty());
    assert!(list(None, 0).await.is_empty());
    let other = store
        .list_customers(
            "o2",
            PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(other, vec![customer(4, "o2")]);

    let invoice = |n: u32, customer: u32| InvoiceRecord {
        id: format!("inv-{n}"),
        organization_id: "o1".into(),
        client_id: id(customer),
        amount_cents: i64::MAX,
        currency: "EUR".into(),
        created_at: i64::MIN,
    };
    store.insert_invoice(&invoice(1, 1)).await.unwrap();
    store
        .insert_invoice(&InvoiceRecord {
            amount_cents: i64::MIN,
            currency: ODD_TEXT.into(),
            ..invoice(2, 5)
        })
        .await
        .unwrap();
    assert!(is_conflict(store.insert_invoice(&invoice(1, 2)).await));
    assert!(is_missing_reference(store.insert_invoice(&invoice(3, 99)).await));
    let stray = InvoiceRecord {
        organization_id: "nowhere".into(),
        ..invoice(4, 1)
    };
    assert!(is_missing_reference(store.insert_invoice(&stray).await));

    assert!(store.delete_organization("o1").await.unwrap());
    assert_eq!(store.find_customer("o1", &id(1)).await.unwrap(), None);
    let moved = InvoiceRecord {
        organization_id: "o2".into(),
        ..invoice(1, 4)
    };
    store.insert_invoice(&moved).await.unwrap();
}

/// Inserts an unconsumed code of client c1 with this expiry.
async fn code_expiring(store: &dyn Store, value: &str, expires_at: i64) {
    let record = AuthorizationCodeRecord {
        expires_at,
        ..code(value)
    };
    store.insert_authorization_code(&record).await.unwrap();
}

/// A grant created at `created_at`, by exchanging a code that expires
/// after the grant cutoff, with refresh tokens expiring at `refresh_expiry`.
async fn grant_at(store: &dyn Store, grant_id: &str, created_at: i64, refresh_expiry: &[i64]) {
    let code_value = format!("for-{grant_id}");
    code_expiring(store, &code_value, 6_000).await;
    let record = GrantRecord {
        created_at,
        ..grant(grant_id)
    };
    let outcome = store
        .exchange_authorization_code(&TokenDigest::of(&code_value), &record, None, created_at)
        .await
        .unwrap();
    assert_eq!(outcome, latchkey::store::CodeExchange::Exchanged);
    for (i, expires_at) in refresh_expiry.iter().enumerate() {
        let token = RefreshTokenRecord {
            expires_at: *expires_at,
            ..refresh(&format!("{grant_id}-{i}"), grant_id)
        };
        store.insert_refresh_token(&token).await.unwrap();
    }
}

/// With now = 10 000, grant cutoff = 5 000 and audit cutoff = 8 000:
/// codes and refresh tokens go when they expired before the grant cutoff
/// (so a replay is still recognized until then), sessions and
/// revoked-token records when they expired before now, grants when
/// revoked before the grant cutoff or created before it with no refresh
/// token left (a revoked grant has none, so an old one goes however
/// recently it was revoked), audit events older than the audit cutoff.
/// Every bound is strict; the counts say what went, and a second purge
/// finds nothing.
async fn purging_removes_only_what_expired_and_counts_it(backend: Backend) {
    let (store, _db) = open(backend).await;
    let store = store.as_ref();
    seed(store).await;
    let digest = TokenDigest::of;

    code_expiring(store, "code-old", 4_999).await;
    code_expiring(store, "code-edge", 5_000).await;
    code_expiring(store, "code-expired-recently", 9_000).await;

    grant_at(store, "g-revoked-long-ago", 1_000, &[20_000]).await;
    assert!(store.revoke_grant("g-revoked-long-ago", 4_999).await.unwrap());
    grant_at(store, "g-revoked-at-cutoff", 5_000, &[20_000]).await;
    assert!(store.revoke_grant("g-revoked-at-cutoff", 5_000).await.unwrap());
    grant_at(store, "g-old-revoked-recently", 1_000, &[20_000]).await;
    assert!(store.revoke_grant("g-old-revoked-recently", 9_000).await.unwrap());
    grant_at(store, "g-without-tokens", 1_000, &[]).await;
    grant_at(store, "g-tokens-expired", 1_000, &[4_999]).await;
    grant_at(store, "g-tokens-kept", 1_000, &[5_000, 9_000]).await;
    grant_at(store, "g-new", 5_000, &[]).await;

    let session = |value: &str, expires_at| SessionRecord {
        id_digest: digest(value),
        user_id: "u1".into(),
        auth_time: 1,
        created_at: 1,
        expires_at,
        user_agent: None,
        last_seen_at: None,
        amr: Vec::new(),
    };
    store.insert_session(&session("s-old", 9_999)).await.unwrap();
    store.insert_session(&session("s-edge", 10_000)).await.unwrap();

    store
        .revoke_access_token("j-old", "g-tokens-kept", 9_999, 1_000)
        .await
        .unwrap();
    store
        .revoke_access_token("j-edge", "g-tokens-kept", 10_000, 1_000)
        .await
        .unwrap();

    for (id, at) in [("e-old", 7_999), ("e-edge", 8_000), ("e-new", 9_000)] {
        store.insert_audit_event(&event(id, at)).await.unwrap();
    }

    let link = |value: &str, expires_at| latchkey::store::UserTokenRecord {
        token_digest: digest(value),
        user_id: "u1".into(),
        purpose: latchkey::store::TokenPurpose::PasswordReset,
        email: "u1@example.com".into(),
        created_at: 1,
        expires_at,
        used_at: None,
    };
    // Inserting a link purges those expired before its own `now` (1).
    store.insert_user_token(&link("l-old", 9_999), 1).await.unwrap();
    store.insert_user_token(&link("l-edge", 10_000), 1).await.unwrap();

    let counts = store.purge_expired(10_000, 5_000, 8_000).await.unwrap();
    assert_eq!(
        counts,
        PurgeCounts {
            authorization_codes: 1,
            refresh_tokens: 1,
            sessions: 1,
            revoked_access_tokens: 1,
            grants: 4,
            audit_events: 1,
            user_tokens: 1,
        }
    );

    assert_eq!(
        store.find_authorization_code(&digest("code-old")).await.unwrap(),
        None
    );
    assert!(
        store
            .find_authorization_code(&digest("code-edge"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_authorization_code(&digest("code-expired-recently"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_authorization_code(&digest("for-g-new"))
            .await
            .unwrap()
            .is_some()
    );

    for (grant_id, kept) in [
        ("g-revoked-long-ago", false),
        ("g-revoked-at-cutoff", true),
        ("g-old-revoked-recently", false),
        ("g-without-tokens", false),
        ("g-tokens-expired", false),
        ("g-tokens-kept", true),
        ("g-new", true),
    ] {
        assert_eq!(
            store.find_grant(grant_id).await.unwrap().is_some(),
            kept,
            "{grant_id}"
        );
    }
    assert_eq!(
        store
            .find_refresh_token(&digest("g-tokens-expired-0"))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .find_refresh_token(&digest("g-tokens-kept-0"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_refresh_token(&digest("g-tokens-kept-1"))
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(store.find_session(&digest("s-old")).await.unwrap(), None);
    assert!(store.find_session(&digest("s-edge")).await.unwrap().is_some());
    assert!(store.find_user_token(&digest("l-old")).await.unwrap().is_none());
    assert!(store.find_user_token(&digest("l-edge")).await.unwrap().is_some());

    // A purged revocation record no longer counts (its token has expired).
    assert!(
        store
            .access_token_is_live("g-tokens-kept", "j-old")
            .await
            .unwrap()
    );
    assert!(
        !store
            .access_token_is_live("g-tokens-kept", "j-edge")
            .await
            .unwrap()
    );

    let events: Vec<String> = store
        .list_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(events, ["e-new", "e-edge"]);

    assert_eq!(
        store.purge_expired(10_000, 5_000, 8_000).await.unwrap(),
        PurgeCounts::default()
    );
}
