//! Clients registered by their metadata documents: the first save inserts
//! the client with its document record, a later save rewrites what the
//! document says and keeps what the operator set (enabled, created_at), a
//! client registered some other way is never overwritten, concurrent first
//! saves all succeed on one client, and deleting the client removes its
//! record.

use std::sync::Arc;

use latchkey::store::{ClientDocumentRecord, ClientRecord};

use super::{client, open, strings};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    a_document_client_is_inserted_then_rewritten_keeping_what_the_operator_set,
    a_client_registered_otherwise_is_never_overwritten,
    concurrent_first_saves_store_the_client_once,
);

const URL: &str = "https://agent.example/client.json";

fn document_client(name: &str, at: i64) -> ClientRecord {
    ClientRecord {
        client_id: URL.into(),
        secret_digest: None,
        name: name.into(),
        description: String::new(),
        homepage_url: Some("https://agent.example".into()),
        logo_url: Some("https://agent.example/logo.png".into()),
        redirect_uris: strings(&["https://agent.example/cb"]),
        allowed_scopes: strings(&["openid"]),
        token_endpoint_auth_method: "none".into(),
        organization_id: None,
        grant_types: latchkey::oauth::grant_type::GrantType::DEFAULT.to_vec(),
        id_token_signed_response_alg: None,
        enabled: true,
        created_at: at,
        updated_at: at,
        origin: latchkey::store::ClientOrigin::MetadataDocument,
    }
}

fn fetched(at: i64, lifetime: i64) -> ClientDocumentRecord {
    ClientDocumentRecord {
        fetched_at: at,
        expires_at: at + lifetime,
    }
}

async fn a_document_client_is_inserted_then_rewritten_keeping_what_the_operator_set(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert_eq!(store.find_client_document(URL).await.unwrap(), None);

    let first = document_client("Agent", 100);
    assert!(
        store
            .save_client_document(&first, &fetched(100, 300))
            .await
            .unwrap()
    );
    assert_eq!(store.find_client(URL).await.unwrap(), Some(first.clone()));
    assert_eq!(
        store.find_client_document(URL).await.unwrap(),
        Some(fetched(100, 300))
    );

    // The operator disables it; the next fetch says other things.
    assert!(store.set_client_enabled(URL, false, 150).await.unwrap());
    let mut second = document_client("Agent 2", 500);
    second.homepage_url = None;
    second.logo_url = None;
    second.redirect_uris = strings(&["https://agent.example/cb", "http://127.0.0.1/cb"]);
    second.allowed_scopes = strings(&["openid", "email"]);
    assert!(
        store
            .save_client_document(&second, &fetched(500, 60))
            .await
            .unwrap()
    );
    let stored = store.find_client(URL).await.unwrap().unwrap();
    assert_eq!(
        stored,
        ClientRecord {
            enabled: false,
            created_at: 100,
            ..second
        }
    );
    assert_eq!(
        store.find_client_document(URL).await.unwrap(),
        Some(fetched(500, 60))
    );

    // Deleting the client deletes its document record.
    assert!(store.delete_client(URL).await.unwrap());
    assert_eq!(store.find_client_document(URL).await.unwrap(), None);
}

async fn a_client_registered_otherwise_is_never_overwritten(backend: Backend) {
    let (store, _db) = open(backend).await;
    let registered = ClientRecord {
        client_id: URL.into(),
        ..client("unused")
    };
    store.insert_client(&registered).await.unwrap();
    assert!(
        !store
            .save_client_document(&document_client("Impostor", 100), &fetched(100, 300))
            .await
            .unwrap()
    );
    assert_eq!(store.find_client(URL).await.unwrap(), Some(registered));
    assert_eq!(store.find_client_document(URL).await.unwrap(), None);
}

async fn concurrent_first_saves_store_the_client_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .save_client_document(&document_client(&format!("Agent {i}"), 100), &fetched(100, 300))
                .await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap(), "every save succeeds");
    }
    let stored = store.find_client(URL).await.unwrap().unwrap();
    assert!(stored.name.starts_with("Agent "));
    assert_eq!(store.list_clients().await.unwrap().len(), 1);
    assert!(store.find_client_document(URL).await.unwrap().is_some());
}
