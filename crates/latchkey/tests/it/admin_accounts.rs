//! Admin API for users, organizations and memberships (SPEC 10).

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    users_are_created_listed_shown_and_deleted,
    duplicate_email_is_a_conflict_whatever_its_case,
    bad_user_input_is_refused_with_the_field,
    organizations_and_memberships,
);

async fn users_are_created_listed_shown_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"email": "bob@example.com", "name": "Bob", "password": "a long password", "emailVerified": true});
    let (status, created) = app.admin(Method::POST, "/users", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let user = &created["data"];
    assert_eq!(user["email"], "bob@example.com");
    assert_eq!(user["emailVerified"], true);
    assert!(!created.to_string().contains("password"), "{created}");
    let id = user["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());

    let stored = app.state.store.find_user(id).await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(!stored.password_hash.contains("a long password"));

    let (_, listed) = app.admin(Method::GET, "/users", None).await;
    assert_eq!(listed["data"][0]["id"], id);
    let (status, shown) = app.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!((status, shown["data"]["name"].as_str()), (200, Some("Bob")));
    let (status, _) = app.admin(Method::DELETE, &format!("/users/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, missing) = app.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "not_found");
}

async fn duplicate_email_is_a_conflict_whatever_its_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"email": "carol@example.com", "name": "Carol", "password": "a long password"});
    let (status, _) = app.admin(Method::POST, "/users", Some(body)).await;
    assert_eq!(status, 201);
    let again = json!({"email": "Carol@Example.COM", "name": "Carol 2", "password": "a long password"});
    let (status, refused) = app.admin(Method::POST, "/users", Some(again)).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    let found = app
        .state
        .store
        .find_user_by_email("CAROL@example.com")
        .await
        .unwrap();
    assert_eq!(found.unwrap().name, "Carol");
}

async fn bad_user_input_is_refused_with_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"email": "not-an-email", "name": "X", "password": "a long password"}),
            "email",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "x@example.com", "name": "  ", "password": "a long password"}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let (status, refused) = app.admin(Method::POST, "/users", Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
    }
    let (status, refused) = app.admin(Method::GET, "/users/%FF%FE", None).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_request");
}

async fn organizations_and_memberships(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, org) = app
        .admin(
            Method::POST,
            "/organizations",
            Some(json!({"name": "Acme Legal"})),
        )
        .await;
    assert_eq!(status, 201, "{org}");
    let org_id = org["data"]["id"].as_str().unwrap().to_owned();
    let (_, user) = app
        .admin(
            Method::POST,
            "/users",
            Some(json!({"email": "dan@example.com", "name": "Dan", "password": "a long password"})),
        )
        .await;
    let user_id = user["data"]["id"].as_str().unwrap().to_owned();

    let members = format!("/organizations/{org_id}/members");
    let (status, added) = app
        .admin(
            Method::POST,
            &members,
            Some(json!({"userId": user_id, "role": "FIRM_ADMIN"})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let (status, changed) = app
        .admin(
            Method::PUT,
            &format!("{members}/{user_id}"),
            Some(json!({"role": "ATTORNEY"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let (_, listed) = app.admin(Method::GET, &members, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["role"], "ATTORNEY");
    let (_, of_user) = app
        .admin(Method::GET, &format!("/users/{user_id}/memberships"), None)
        .await;
    assert_eq!(of_user["data"][0]["organizationId"], org_id.as_str());

    let (status, refused) = app
        .admin(
            Method::POST,
            &members,
            Some(json!({"userId": "nobody", "role": "member"})),
        )
        .await;
    assert_eq!(status, 404, "{refused}");
    let (status, _) = app
        .admin(
            Method::POST,
            "/organizations/nowhere/members",
            Some(json!({"userId": user_id, "role": "x"})),
        )
        .await;
    assert_eq!(status, 404);

    let (status, _) = app
        .admin(Method::DELETE, &format!("{members}/{user_id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin(Method::DELETE, &format!("{members}/{user_id}"), None)
        .await;
    assert_eq!(status, 404);

    let (_, orgs) = app.admin(Method::GET, "/organizations", None).await;
    assert_eq!(orgs["data"][0]["name"], "Acme Legal");
    let (status, _) = app
        .admin(Method::DELETE, &format!("/organizations/{org_id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin(Method::GET, &format!("/organizations/{org_id}"), None)
        .await;
    assert_eq!(status, 404);
}
