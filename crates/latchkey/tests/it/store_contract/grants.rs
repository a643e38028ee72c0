//! Consents, authorization codes and their exchange (also raced: of eight
//! callers exactly one wins and the others change nothing), connected
//! apps.

use std::sync::Arc;

use latchkey::secret::TokenDigest;
use latchkey::store::{AuthorizationCodeRecord, CodeExchange, GrantRecord, RefreshTokenRecord};

use super::{
    ODD_TEXT, client, code, exchanged_grant, grant, is_conflict, is_missing_reference, long_text, open,
    organization, refresh, seed, strings, user,
};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    consents_are_replaced_and_keep_their_first_approval_time,
    consents_remember_their_resources_apart_from_their_scopes,
    a_clients_consents_list_newest_first_then_by_organization_name,
    authorization_codes_round_trip_every_field,
    a_code_exchanges_once_and_a_replay_names_the_first_grant,
    a_failed_exchange_leaves_the_code_unconsumed_and_nothing_written,
    of_concurrent_exchanges_of_one_code_exactly_one_succeeds,
    connected_apps_list_by_organization_then_app_with_their_last_use,
    revoking_a_connected_app_forgets_the_consent_and_ends_its_grants,
);

fn digest(value: &str) -> TokenDigest {
    TokenDigest::of(value)
}

async fn consents_are_replaced_and_keep_their_first_approval_time(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    assert_eq!(store.find_consent("u1", "o1", "c1").await.unwrap(), None);
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid"]), 10)
        .await
        .unwrap();
    assert_eq!(
        store.find_consent("u1", "o1", "c1").await.unwrap(),
        Some(strings(&["openid"]))
    );
    assert_eq!(
        store.find_consent("u1", "o2", "c1").await.unwrap(),
        None,
        "per organization"
    );
    assert_eq!(
        store.find_consent("u2", "o1", "c1").await.unwrap(),
        None,
        "per user"
    );

    let odd = strings(&[ODD_TEXT, "cases:read", "openid"]);
    store.upsert_consent("u1", "o1", "c1", &odd, 20).await.unwrap();
    assert_eq!(
        store.find_consent("u1", "o1", "c1").await.unwrap(),
        Some(odd.clone()),
        "in the order given"
    );
    assert_eq!(
        store.list_client_consents("u1", "c1").await.unwrap(),
        vec![("o1".to_owned(), odd, 20)]
    );
    let app = &store.list_connected_apps("u1").await.unwrap()[0];
    assert_eq!(
        (app.granted_at, app.updated_at),
        (10, 20),
        "the first approval's time stays"
    );

    store.upsert_consent("u1", "o1", "c1", &[], 30).await.unwrap();
    assert_eq!(
        store.find_consent("u1", "o1", "c1").await.unwrap(),
        Some(vec![]),
        "empty, not absent"
    );

    let scopes = strings(&["openid"]);
    assert!(is_missing_reference(
        store.upsert_consent("nobody", "o1", "c1", &scopes, 1).await
    ));
    assert!(is_missing_reference(
        store.upsert_consent("u1", "nowhere", "c1", &scopes, 1).await
    ));
    assert!(is_missing_reference(
        store.upsert_consent("u1", "o1", "ghost", &scopes, 1).await
    ));
}

/// RFC 8707: the resources of a consent are read and replaced on their
/// own; a consent's scopes, replaced, leave them; a missing consent has
/// none and takes none.
async fn consents_remember_their_resources_apart_from_their_scopes(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let resources = strings(&["https://mcp.example.com", ODD_TEXT]);
    assert!(
        store
            .find_consent_resources("u1", "o1", "c1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .set_consent_resources("u1", "o1", "c1", &resources)
            .await
            .unwrap(),
        "no consent to add them to"
    );
    assert!(
        store
            .find_consent_resources("u1", "o1", "c1")
            .await
            .unwrap()
            .is_empty()
    );

    let openid = strings(&["openid"]);
    store.upsert_consent("u1", "o1", "c1", &openid, 10).await.unwrap();
    assert!(
        store
            .find_consent_resources("u1", "o1", "c1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .set_consent_resources("u1", "o1", "c1", &resources)
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_consent_resources("u1", "o1", "c1").await.unwrap(),
        resources,
        "in the order given"
    );
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid", "email"]), 20)
        .await
        .unwrap();
    assert_eq!(
        store.find_consent_resources("u1", "o1", "c1").await.unwrap(),
        resources,
        "new scopes keep the resources"
    );
    assert!(
        store
            .find_consent_resources("u1", "o2", "c1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.set_consent_resources("u1", "o1", "c1", &[]).await.unwrap());
    assert!(
        store
            .find_consent_resources("u1", "o1", "c1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.find_consent("u1", "o1", "c1").await.unwrap(),
        Some(strings(&["openid", "email"]))
    );
}

/// One client's consents across organizations: newest approval first,
/// ties in organization-name order; other clients' consents are not listed.
async fn a_clients_consents_list_newest_first_then_by_organization_name(backend: Backend) {
    let (store, _db) = open(backend).await;
    store.insert_user(&user("u1", "a@example.com")).await.unwrap();
    store.insert_user(&user("u2", "b@example.com")).await.unwrap();
    for (id, name) in [("o1", "Birch"), ("o2", "Acme"), ("o3", "Cedar")] {
        store.insert_organization(&organization(id, name)).await.unwrap();
    }
    store.insert_client(&client("c1")).await.unwrap();
    store.insert_client(&client("c2")).await.unwrap();
    let scopes = strings(&["openid"]);
    store.upsert_consent("u1", "o1", "c1", &scopes, 10).await.unwrap();
    store.upsert_consent("u1", "o2", "c1", &scopes, 10).await.unwrap();
    store
        .upsert_consent("u1", "o3", "c1", &strings(&["openid", "email"]), 20)
        .await
        .unwrap();
    store.upsert_consent("u1", "o1", "c2", &scopes, 30).await.unwrap();
    store.upsert_consent("u2", "o1", "c1", &scopes, 40).await.unwrap();
    assert_eq!(
        store.list_client_consents("u1", "c1").await.unwrap(),
        vec![
            ("o3".to_owned(), strings(&["openid", "email"]), 20),
            ("o2".to_owned(), scopes.clone(), 10),
            ("o1".to_owned(), scopes.clone(), 10),
        ]
    );
    assert!(
        store
            .list_client_consents("u1", "nobody")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_client_consents("nobody", "c1")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn authorization_codes_round_trip_every_field(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let full = code("full");
    let bare = AuthorizationCodeRecord {
        code_digest: TokenDigest([0; 32]),
        redirect_uri: long_text(),
        redirect_uri_given: false,
        scopes: vec![],
        code_challenge: None,
        code_challenge_method: None,
        nonce: None,
        resources: vec![],
        auth_time: i64::MIN,
        created_at: -1,
        expires_at: i64::MAX,
        ..code("bare")
    };
    let consumed = AuthorizationCodeRecord {
        nonce: Some(ODD_TEXT.into()),
        resources: strings(&[ODD_TEXT]),
        scopes: strings(&[ODD_TEXT]),
        consumed_at: Some(i64::MAX),
        grant_id: Some("ü-grant".into()),
        ..code("consumed")
    };
    for record in [&full, &bare, &consumed] {
        store.insert_authorization_code(record).await.unwrap();
        assert_eq!(
            store
                .find_authorization_code(&record.code_digest)
                .await
                .unwrap()
                .as_ref(),
            Some(record)
        );
    }
    assert_eq!(
        store.find_authorization_code(&digest("missing")).await.unwrap(),
        None
    );
    assert!(is_conflict(store.insert_authorization_code(&full).await));
    for stray in [
        AuthorizationCodeRecord {
            client_id: "ghost".into(),
            ..code("x1")
        },
        AuthorizationCodeRecord {
            user_id: "ghost".into(),
            ..code("x2")
        },
        AuthorizationCodeRecord {
            organization_id: "ghost".into(),
            ..code("x3")
        },
    ] {
        assert!(is_missing_reference(
            store.insert_authorization_code(&stray).await
        ));
        assert_eq!(
            store.find_authorization_code(&stray.code_digest).await.unwrap(),
            None
        );
    }
}

/// The first exchange consumes the code (time and grant recorded) and
/// writes the grant and its refresh token as given; a second exchange of
/// the same code answers `AlreadyConsumed` naming the first grant (whose
/// revocation is then the caller's) and writes nothing. Expiry is the
/// caller's rule: the store exchanges an expired code.
async fn a_code_exchanges_once_and_a_replay_names_the_first_grant(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_authorization_code(&code("c")).await.unwrap();
    let first = GrantRecord {
        scopes: strings(&[ODD_TEXT, "openid"]),
        auth_time: i64::MIN,
        created_at: i64::MAX,
        ..grant("g1")
    };
    let token = RefreshTokenRecord {
        scopes: vec![],
        ..refresh("r1", "g1")
    };
    let outcome = store
        .exchange_authorization_code(&digest("c"), &first, Some(&token), 1_020)
        .await
        .unwrap();
    assert_eq!(outcome, CodeExchange::Exchanged);
    let consumed = AuthorizationCodeRecord {
        consumed_at: Some(1_020),
        grant_id: Some("g1".into()),
        ..code("c")
    };
    assert_eq!(
        store.find_authorization_code(&digest("c")).await.unwrap(),
        Some(consumed.clone())
    );
    assert_eq!(store.find_grant("g1").await.unwrap(), Some(first));
    assert_eq!(
        store.find_refresh_token(&digest("r1")).await.unwrap(),
        Some(token)
    );
    assert!(store.access_token_is_live("g1", "jti").await.unwrap());

    let replay = store
        .exchange_authorization_code(&digest("c"), &grant("g2"), Some(&refresh("r2", "g2")), 1_030)
        .await
        .unwrap();
    assert_eq!(
        replay,
        CodeExchange::AlreadyConsumed {
            grant_id: Some("g1".into())
        }
    );
    assert_eq!(
        store.find_authorization_code(&digest("c")).await.unwrap(),
        Some(consumed)
    );
    assert_eq!(store.find_grant("g2").await.unwrap(), None);
    assert_eq!(store.find_refresh_token(&digest("r2")).await.unwrap(), None);
    assert!(
        store.access_token_is_live("g1", "jti").await.unwrap(),
        "the store revokes nothing itself"
    );

    // An unknown code, and one stored consumed without a grant.
    let unknown = store
        .exchange_authorization_code(&digest("nope"), &grant("g3"), None, 1_030)
        .await
        .unwrap();
    assert_eq!(unknown, CodeExchange::AlreadyConsumed { grant_id: None });
    assert_eq!(store.find_grant("g3").await.unwrap(), None);
    let spent = AuthorizationCodeRecord {
        consumed_at: Some(5),
        ..code("spent")
    };
    store.insert_authorization_code(&spent).await.unwrap();
    let outcome = store
        .exchange_authorization_code(&digest("spent"), &grant("g4"), None, 1_030)
        .await
        .unwrap();
    assert_eq!(outcome, CodeExchange::AlreadyConsumed { grant_id: None });
    assert_eq!(store.find_grant("g4").await.unwrap(), None);
    assert_eq!(
        store.find_authorization_code(&digest("spent")).await.unwrap(),
        Some(spent)
    );

    // Without a refresh token, and past the code's expiry.
    store.insert_authorization_code(&code("late")).await.unwrap();
    let revoked = GrantRecord {
        revoked_at: Some(7),
        ..grant("g5")
    };
    let outcome = store
        .exchange_authorization_code(&digest("late"), &revoked, None, 99_999)
        .await
        .unwrap();
    assert_eq!(outcome, CodeExchange::Exchanged);
    assert_eq!(store.find_grant("g5").await.unwrap(), Some(revoked));
    assert!(
        !store.access_token_is_live("g5", "jti").await.unwrap(),
        "inserted revoked"
    );
    assert!(!store.revoke_grant("g5", 100_000).await.unwrap());
    let late = store
        .find_authorization_code(&digest("late"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (late.consumed_at, late.grant_id.as_deref()),
        (Some(99_999), Some("g5"))
    );
}

/// When writing the grant or its refresh token fails, the exchange rolls
/// back: the code stays unconsumed and can still be exchanged.
async fn a_failed_exchange_leaves_the_code_unconsumed_and_nothing_written(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    exchanged_grant(store.as_ref(), "existing", "existing-refresh").await;
    store.insert_authorization_code(&code("c")).await.unwrap();
    let unconsumed = || {
        let store = Arc::clone(&store);
        async move { store.find_authorization_code(&digest("c")).await.unwrap() == Some(code("c")) }
    };

    let orphan = GrantRecord {
        user_id: "ghost".into(),
        ..grant("g1")
    };
    let result = store
        .exchange_authorization_code(&digest("c"), &orphan, Some(&refresh("r1", "g1")), 1_020)
        .await;
    assert!(is_missing_reference(result));
    assert!(unconsumed().await);
    assert_eq!(store.find_grant("g1").await.unwrap(), None);
    assert_eq!(store.find_refresh_token(&digest("r1")).await.unwrap(), None);

    let taken_id = grant("existing");
    let result = store
        .exchange_authorization_code(&digest("c"), &taken_id, None, 1_020)
        .await;
    assert!(is_conflict(result));
    assert!(unconsumed().await);

    let taken_refresh = refresh("existing-refresh", "g2");
    let result = store
        .exchange_authorization_code(&digest("c"), &grant("g2"), Some(&taken_refresh), 1_020)
        .await;
    assert!(is_conflict(result));
    assert!(unconsumed().await);
    assert_eq!(store.find_grant("g2").await.unwrap(), None);

    let wrong_grant = refresh("r3", "another-grant");
    let result = store
        .exchange_authorization_code(&digest("c"), &grant("g3"), Some(&wrong_grant), 1_020)
        .await;
    assert!(
        is_missing_reference(result),
        "the refresh token must belong to a grant"
    );
    assert!(unconsumed().await);
    assert_eq!(store.find_grant("g3").await.unwrap(), None);

    let outcome = store
        .exchange_authorization_code(&digest("c"), &grant("g4"), Some(&refresh("r4", "g4")), 1_020)
        .await
        .unwrap();
    assert_eq!(outcome, CodeExchange::Exchanged);
    assert!(store.find_refresh_token(&digest("r4")).await.unwrap().is_some());
}

/// Eight concurrent exchanges of one code, each with its own grant and
/// refresh token: exactly one `Exchanged`, the others `AlreadyConsumed`
/// naming the winner's grant, and only the winner's rows exist.
async fn of_concurrent_exchanges_of_one_code_exactly_one_succeeds(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    store.insert_authorization_code(&code("raced")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let grant_id = format!("g{i}");
                let token = refresh(&format!("r{i}"), &grant_id);
                store
                    .exchange_authorization_code(&digest("raced"), &grant(&grant_id), Some(&token), 2_000 + i)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners: Vec<usize> = (0..8)
        .filter(|i| outcomes[*i] == CodeExchange::Exchanged)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one exchange wins: {outcomes:?}");
    let winner = winners[0];
    let winning_grant = format!("g{winner}");
    for (i, outcome) in outcomes.iter().enumerate() {
        if i != winner {
            assert_eq!(
                outcome,
                &CodeExchange::AlreadyConsumed {
                    grant_id: Some(winning_grant.clone())
                }
            );
        }
        let grant_found = store.find_grant(&format!("g{i}")).await.unwrap();
        let token_found = store.find_refresh_token(&digest(&format!("r{i}"))).await.unwrap();
        assert_eq!(grant_found.is_some(), i == winner);
        assert_eq!(token_found.is_some(), i == winner);
    }
    let raced = store
        .find_authorization_code(&digest("raced"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raced.consumed_at, Some(2_000 + winner as i64));
    assert_eq!(raced.grant_id, Some(winning_grant));
}

/// Connected apps are a user's consents with their app and organization,
/// ordered by organization name, then app name, then client id; the last
/// use is the latest grant or refresh token of that user × organization ×
/// app, `None` before any.
async fn connected_apps_list_by_organization_then_app_with_their_last_use(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let mut logo = client("c0");
    logo.name = "App".into();
    logo.logo_url = Some("https://cdn.example/ü.png".into());
    store.insert_client(&logo).await.unwrap();
    let mut zed = client("c2");
    zed.name = "Zed".into();
    store.insert_client(&zed).await.unwrap();
    let openid = strings(&["openid"]);
    store.upsert_consent("u1", "o2", "c1", &openid, 5).await.unwrap();
    store.upsert_consent("u1", "o1", "c2", &openid, 6).await.unwrap();
    store
        .upsert_consent("u1", "o1", "c1", &strings(&["openid", "cases:read"]), 7)
        .await
        .unwrap();
    store.upsert_consent("u1", "o1", "c0", &openid, 8).await.unwrap();
    store.upsert_consent("u2", "o1", "c1", &openid, 9).await.unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await; // c1 in o1, created 1 010
    let successor = RefreshTokenRecord {
        created_at: 4_000,
        ..refresh("r2", "g1")
    };
    assert!(
        store
            .rotate_refresh_token(&digest("r1"), &successor, 4_000)
            .await
            .unwrap()
    );

    let apps = store.list_connected_apps("u1").await.unwrap();
    let order: Vec<(&str, &str)> = apps
        .iter()
        .map(|a| (a.organization_id.as_str(), a.client_id.as_str()))
        .collect();
    assert_eq!(order, [("o1", "c0"), ("o1", "c1"), ("o1", "c2"), ("o2", "c1")]);
    let c0 = &apps[0];
    assert_eq!(
        (
            c0.client_name.as_str(),
            c0.client_logo_url.as_deref(),
            c0.organization_name.as_str()
        ),
        ("App", Some("https://cdn.example/ü.png"), "Acme")
    );
    assert_eq!((c0.granted_at, c0.updated_at, c0.last_used_at), (8, 8, None));
    let c1 = &apps[1];
    assert_eq!(c1.scopes, strings(&["openid", "cases:read"]));
    assert_eq!(c1.last_used_at, Some(4_000), "the latest refresh");
    assert_eq!(
        apps[3].last_used_at, None,
        "grants in another organization do not count"
    );
    assert_eq!(apps[3].organization_name, "Birch");

    // A grant newer than every refresh token.
    let mut late = code("late");
    late.client_id = "c2".into();
    store.insert_authorization_code(&late).await.unwrap();
    let newer = GrantRecord {
        client_id: "c2".into(),
        created_at: 5_000,
        ..grant("g2")
    };
    store
        .exchange_authorization_code(&digest("late"), &newer, None, 5_000)
        .await
        .unwrap();
    assert_eq!(
        store.list_connected_apps("u1").await.unwrap()[2].last_used_at,
        Some(5_000)
    );

    assert_eq!(store.list_connected_apps("u2").await.unwrap().len(), 1);
    assert!(store.list_connected_apps("nobody").await.unwrap().is_empty());
}

/// Revoking a connected app forgets the consent and revokes every grant
/// of that user × organization × app, deleting their refresh tokens; the
/// same app in another organization is untouched. `true` when there was a
/// consent or a live grant, otherwise `false`.
async fn revoking_a_connected_app_forgets_the_consent_and_ends_its_grants(backend: Backend) {
    let (store, _db) = open(backend).await;
    seed(store.as_ref()).await;
    let openid = strings(&["openid"]);
    store.upsert_consent("u1", "o1", "c1", &openid, 5).await.unwrap();
    store.upsert_consent("u1", "o2", "c1", &openid, 5).await.unwrap();
    exchanged_grant(store.as_ref(), "g1", "r1").await;
    exchanged_grant(store.as_ref(), "g2", "r2").await;
    assert!(store.revoke_grant("g2", 1_500).await.unwrap());
    let mut elsewhere = code("elsewhere");
    elsewhere.organization_id = "o2".into();
    store.insert_authorization_code(&elsewhere).await.unwrap();
    let other = GrantRecord {
        organization_id: "o2".into(),
        ..grant("g3")
    };
    store
        .exchange_authorization_code(&digest("elsewhere"), &other, Some(&refresh("r3", "g3")), 1_010)
        .await
        .unwrap();

    assert!(store.revoke_connected_app("u1", "o1", "c1", 2_000).await.unwrap());
    assert_eq!(store.find_consent("u1", "o1", "c1").await.unwrap(), None);
    assert_eq!(
        store.find_grant("g1").await.unwrap().unwrap().revoked_at,
        Some(2_000)
    );
    assert_eq!(
        store.find_grant("g2").await.unwrap().unwrap().revoked_at,
        Some(1_500)
    );
    assert!(!store.access_token_is_live("g1", "a").await.unwrap());
    assert_eq!(store.find_refresh_token(&digest("r1")).await.unwrap(), None);
    assert!(
        !store.revoke_connected_app("u1", "o1", "c1", 2_100).await.unwrap(),
        "nothing left"
    );

    assert!(store.find_consent("u1", "o2", "c1").await.unwrap().is_some());
    assert!(store.access_token_is_live("g3", "a").await.unwrap());
    assert!(store.find_refresh_token(&digest("r3")).await.unwrap().is_some());
    let apps = store.list_connected_apps("u1").await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].organization_id, "o2");

    // Only a consent, or only a live grant, is still something to revoke.
    assert!(store.revoke_connected_app("u1", "o2", "c1", 2_200).await.unwrap());
    assert!(!store.access_token_is_live("g3", "a").await.unwrap());
    store.upsert_consent("u2", "o1", "c1", &openid, 5).await.unwrap();
    assert!(store.revoke_connected_app("u2", "o1", "c1", 2_300).await.unwrap());
    exchanged_grant(store.as_ref(), "g4", "r4").await;
    assert!(
        store.revoke_connected_app("u1", "o1", "c1", 2_400).await.unwrap(),
        "a grant without consent"
    );
    assert!(!store.access_token_is_live("g4", "a").await.unwrap());
    assert!(
        !store
            .revoke_connected_app("nobody", "o1", "c1", 2_500)
            .await
            .unwrap()
    );
}
