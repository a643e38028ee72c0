//! Users imported with the password hash they have elsewhere: the admin
//! API's `passwordHash` and `latchkey users import FILE`; their sign-in
//! through the login page with the old password, after which the stored
//! hash is argon2id; refusals naming the field and the line.

use argon2::PasswordHasher as _;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use latchkey::accounts::password::is_current;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::user_agent::UserAgent;

backend_tests!(
    each_imported_format_signs_in_with_the_old_password_and_becomes_argon2id,
    bad_hashes_and_two_credentials_are_refused_naming_the_field,
    users_import_reports_each_line_and_skips_bad_ones,
    users_import_reads_stdin_and_a_user_without_a_hash_cannot_sign_in,
);

const PASSWORD: &str = "the password from before";

/// The same password hashed by each supported format, with the crates
/// that implement them (cheap costs, so the test is quick).
fn hashes_of(password: &str) -> Vec<(&'static str, String)> {
    let argon = |algorithm, m, t| {
        argon2::Argon2::new(
            algorithm,
            argon2::Version::V0x13,
            argon2::Params::new(m, t, 1, None).unwrap(),
        )
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
    };
    let bcrypt = bcrypt::hash(password, 4).unwrap();
    let scrypt = {
        use scrypt::password_hash::PasswordHasher as _;
        scrypt::Scrypt::new_with_params(scrypt::Params::new(10, 8, 1).unwrap())
            .hash_password_with_salt(password.as_bytes(), b"an scrypt salt..")
            .unwrap()
            .to_string()
    };
    let pbkdf2 = {
        use pbkdf2::password_hash::PasswordHasher as _;
        pbkdf2::Pbkdf2::new(
            pbkdf2::Algorithm::Pbkdf2Sha256,
            pbkdf2::Params::new(1_000).unwrap(),
        )
        .hash_password_with_salt(password.as_bytes(), b"a pbkdf2 salt+/+/+/")
        .unwrap()
        .to_string()
    };
    let passlib = format!(
        "$pbkdf2-sha256$1000${}",
        pbkdf2.split_once("l=32$").unwrap().1.replace('+', ".")
    );
    let django = {
        let mut derived = [0u8; 32];
        aws_lc_rs::pbkdf2::derive(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(1_200).unwrap(),
            b"DjangoSalt1234",
            password.as_bytes(),
            &mut derived,
        );
        format!(
            "pbkdf2_sha256$1200$DjangoSalt1234${}",
            base64::engine::general_purpose::STANDARD.encode(derived)
        )
    };
    vec![
        ("argon2i", argon(argon2::Algorithm::Argon2i, 8 * 1024, 2)),
        ("argon2id", argon(argon2::Algorithm::Argon2id, 19 * 1024, 2)),
        ("bcrypt-2a", bcrypt.replacen("$2b$", "$2a$", 1)),
        ("bcrypt-2b", bcrypt.clone()),
        ("bcrypt-2y", bcrypt.replacen("$2b$", "$2y$", 1)),
        ("scrypt", scrypt),
        ("pbkdf2-sha256", pbkdf2),
        ("passlib-pbkdf2-sha256", passlib),
        ("django", django),
    ]
}

/// Signs in through the login page; the status of the answer (303 signed
/// in, 401 refused).
async fn sign_in(app: &TestApp, email: &str, password: &str) -> u16 {
    let mut agent = UserAgent::new(&app.base_url);
    let login = agent.get("/login").await;
    assert_eq!(login.status, 200);
    let answer = agent.sign_in(&login, email, password).await;
    if answer.status == 303 {
        assert!(agent.has_cookie("latchkey_session"));
    }
    answer.status
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.state
        .store
        .find_user(id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

async fn each_imported_format_signs_in_with_the_old_password_and_becomes_argon2id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (format, hash) in hashes_of(PASSWORD) {
        let email = format!("{format}@example.com");
        let body = json!({"email": email, "name": format, "passwordHash": hash, "emailVerified": true});
        let (status, created) = app.admin(Method::POST, "/users", Some(body)).await;
        assert_eq!(status, 201, "{format}: {created}");
        assert!(!created.to_string().contains(&hash), "the hash is never echoed");
        assert!(!created.to_string().contains("passwordHash"), "{created}");
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(stored_hash(&app, &id).await, hash, "{format}: stored as it came");

        // A wrong password fails and leaves the hash as it was.
        assert_eq!(sign_in(&app, &email, "not the password").await, 401, "{format}");
        assert_eq!(stored_hash(&app, &id).await, hash, "{format}");

        // The old password signs in, and the hash becomes argon2id.
        assert_eq!(sign_in(&app, &email, PASSWORD).await, 303, "{format}");
        let upgraded = stored_hash(&app, &id).await;
        assert!(is_current(&upgraded), "{format}: {upgraded}");
        assert_ne!(upgraded, hash);
        assert_eq!(sign_in(&app, &email, PASSWORD).await, 303, "{format}: again");
        assert_eq!(stored_hash(&app, &id).await, upgraded, "a current hash stays");
        assert_eq!(sign_in(&app, &email, "not the password").await, 401, "{format}");
    }
    // Each replacement is audited once, naming the algorithm, never a hash.
    let events = app.state.store.list_audit_events(100).await.unwrap();
    let rehashed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "user.password_rehashed")
        .collect();
    assert_eq!(rehashed.len(), 9, "{rehashed:?}");
    let details: Vec<String> = rehashed.iter().map(|e| e.details.to_string()).collect();
    for expected in ["argon2", "bcrypt", "scrypt", "pbkdf2-sha256"] {
        assert!(
            details
                .iter()
                .any(|d| d.contains(&format!("\"from\":\"{expected}\""))),
            "{details:?}"
        );
    }
    assert!(details.iter().all(|d| !d.contains('$')), "{details:?}");
}

async fn bad_hashes_and_two_credentials_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bcrypt = bcrypt::hash(PASSWORD, 4).unwrap();
    let create = |extra: Value| {
        let mut body = json!({"email": "dana@example.com", "name": "Dana"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.admin(Method::POST, "/users", Some(body))
    };
    for (hash, expected) in [
        ("plaintext password".to_owned(), "unknown password hash format"),
        ("$1$saltsalt$md5crypt".to_owned(), "supported are"),
        (
            bcrypt.replacen("$04$", "$17$", 1),
            "bcrypt cost 17 is outside 4 to 16",
        ),
        (bcrypt[..50].to_owned(), "not a well-formed bcrypt hash"),
        (
            "$scrypt$ln=20,r=8,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            "scrypt cost",
        ),
        (
            "pbkdf2_sha256$90000000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
            "PBKDF2 iterations 90000000",
        ),
        (
            "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            "argon2d",
        ),
    ] {
        let (status, refused) = create(json!({"passwordHash": hash})).await;
        assert_eq!(status, 400, "{hash}: {refused}");
        assert_eq!(refused["error"]["code"], "validation_failed");
        assert_eq!(refused["error"]["field"], "passwordHash", "{refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{hash}: {message}");
        assert!(!message.contains(&hash), "the hash is never echoed: {message}");
    }
    let (status, refused) = create(json!({"password": PASSWORD, "passwordHash": bcrypt})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "passwordHash");
    assert!(refused["error"]["message"].as_str().unwrap().contains("not both"));
    let (status, refused) = create(json!({})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "password");
    assert_eq!(
        app.state.store.list_users().await.unwrap(),
        vec![],
        "nothing was created"
    );

    // The alias, then the same email again: a conflict, as with a password.
    let (status, created) = create(json!({"password_hash": bcrypt})).await;
    assert_eq!(status, 201, "{created}");
    let (status, refused) = create(json!({"passwordHash": bcrypt})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // The example of the OpenAPI document is a hash the API accepts.
    let (_, document) = app.get_json("/api/v1/admin/openapi.json").await;
    let example = &document["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        ["imported"]["value"];
    let (status, created) = app.admin(Method::POST, "/users", Some(example.clone())).await;
    assert_eq!(status, 201, "{created}");
    let schema = &document["components"]["schemas"]["UserCreate"];
    assert_eq!(schema["properties"]["passwordHash"]["writeOnly"], true);
    assert_eq!(schema["required"], json!(["email", "name"]));
}

fn output_of(output: &std::process::Output) -> (bool, String, String) {
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The line of the report that starts with `line N:`.
fn report_line(stdout: &str, number: usize) -> &str {
    let prefix = format!("line {number}: ");
    stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{stdout}"))
}

async fn users_import_reports_each_line_and_skips_bad_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, existing_org) = app
        .admin(
            Method::POST,
            "/organizations",
            Some(json!({"name": "Existing Firm"})),
        )
        .await;
    assert_eq!(status, 201);
    let existing_org = existing_org["data"]["id"].as_str().unwrap().to_owned();
    let (status, existing_user) = app
        .admin(
            Method::POST,
            "/users",
            Some(json!({"email": "taken@example.com", "name": "Taken", "password": "a long password"})),
        )
        .await;
    assert_eq!(status, 201);
    let existing_user = existing_user["data"]["id"].as_str().unwrap().to_owned();

    let hashes = hashes_of(PASSWORD);
    let hash = |format: &str| hashes.iter().find(|(f, _)| *f == format).unwrap().1.clone();
    let lines = [
        json!({"email": "erin@example.com", "name": "Erin", "emailVerified": true, "passwordHash": hash("bcrypt-2y"),
               "organizations": [{"name": "New Firm", "role": "ADMIN"}, {"id": existing_org, "role": "member"}]}),
        json!({"email": "frank@example.com", "name": "Frank", "passwordHash": hash("bcrypt-2b").replacen("$04$", "$31$", 1)}),
        json!({"email": "grace@example.com", "name": "Grace", "passwordHash": hash("django"),
               "organizations": [{"name": "New Firm", "role": "PARALEGAL"}]}),
        json!({"email": "Taken@Example.com", "name": "Someone else", "passwordHash": hash("scrypt")}),
        json!({"email": "heidi@example.com", "name": "Heidi", "organizations": [{"id": "no-such-org", "role": "member"}]}),
        json!({"email": "ivan@example.com", "name": "Ivan", "nickname": "unknown field"}),
    ];
    let mut text: Vec<String> = lines.iter().map(Value::to_string).collect();
    text.insert(6, "{\"email\": \"judy@example.com\", ".to_owned());
    text.insert(2, String::new());
    let file = app.database.dir.path().join("users.jsonl");
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    let (succeeded, stdout, stderr) = output_of(&app.cli(&["users", "import", file.to_str().unwrap()], None));
    assert!(
        !succeeded,
        "a failed line makes the exit status non-zero\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("4 line(s) failed"), "{stderr}");

    // Line 1: created, with "New Firm" made for it, and both memberships.
    let erin = report_line(&stdout, 1);
    assert!(
        erin.starts_with("line 1: ok ") && erin.contains("erin@example.com"),
        "{erin}"
    );
    assert!(erin.contains("created organization New Firm"), "{erin}");
    let erin_user = app
        .state
        .store
        .find_user_by_email("erin@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(erin.contains(&erin_user.id), "{erin}");
    assert!(erin_user.email_verified);
    assert_eq!(erin_user.password_hash, hash("bcrypt-2y"));
    // Line 2: refused, naming the field and the bound, not the hash.
    let frank = report_line(&stdout, 2);
    assert!(
        frank.contains("error: passwordHash: bcrypt cost 31 is outside 4 to 16"),
        "{frank}"
    );
    // Line 3 is blank; line 4 joins the "New Firm" line 1 created.
    let grace = report_line(&stdout, 4);
    assert!(
        grace.starts_with("line 4: ok ") && !grace.contains("created organization"),
        "{grace}"
    );
    // Line 5: the email exists (in another case): skipped, left as it was.
    let taken = report_line(&stdout, 5);
    assert!(
        taken.starts_with("line 5: skipped: ") && taken.contains(&existing_user),
        "{taken}"
    );
    assert_eq!(
        app.state
            .store
            .find_user(&existing_user)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Taken"
    );
    // Lines 6, 7, 8: an organization id that does not exist, an unknown
    // field, JSON cut short.
    assert!(
        report_line(&stdout, 6).contains("no organization has the id `no-such-org`"),
        "{stdout}"
    );
    assert!(
        report_line(&stdout, 7).contains("unknown field `nickname`"),
        "{stdout}"
    );
    assert!(
        report_line(&stdout, 8).contains("error: invalid JSON"),
        "{stdout}"
    );
    assert!(
        stdout.contains("imported 2, skipped 1 (email exists), failed 4"),
        "{stdout}"
    );
    for (_, hash) in &hashes {
        assert!(
            !stdout.contains(hash.as_str()) && !stderr.contains(hash.as_str()),
            "{stdout}"
        );
    }
    for email in [
        "frank@example.com",
        "heidi@example.com",
        "ivan@example.com",
        "judy@example.com",
    ] {
        assert_eq!(
            app.state.store.find_user_by_email(email).await.unwrap(),
            None,
            "{email}"
        );
    }

    // Organizations and roles, as the admin API sees them.
    let organizations = app.state.store.list_organizations().await.unwrap();
    let new_firm: Vec<_> = organizations.iter().filter(|o| o.name == "New Firm").collect();
    assert_eq!(new_firm.len(), 1, "created once: {organizations:?}");
    let (_, members) = app
        .admin(
            Method::GET,
            &format!("/organizations/{}/members", new_firm[0].id),
            None,
        )
        .await;
    let mut roles: Vec<(String, String)> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["userId"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort_by(|a, b| a.1.cmp(&b.1));
    let grace_user = app
        .state
        .store
        .find_user_by_email("grace@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        roles,
        vec![
            (erin_user.id.clone(), "ADMIN".to_owned()),
            (grace_user.id.clone(), "PARALEGAL".to_owned())
        ]
    );
    let (_, members) = app
        .admin(
            Method::GET,
            &format!("/organizations/{existing_org}/members"),
            None,
        )
        .await;
    assert_eq!(members["data"][0]["userId"], erin_user.id.as_str());
    assert_eq!(members["data"][0]["role"], "member");

    // The imported users sign in with their old passwords.
    assert_eq!(sign_in(&app, "erin@example.com", PASSWORD).await, 303);
    assert_eq!(sign_in(&app, "grace@example.com", PASSWORD).await, 303);
    assert!(is_current(&stored_hash(&app, &grace_user.id).await));

    // Running the same file again adds nothing: every good line is skipped.
    let (_, stdout, _) = output_of(&app.cli(&["users", "import", file.to_str().unwrap()], None));
    assert!(
        stdout.contains("imported 0, skipped 3 (email exists), failed 4"),
        "{stdout}"
    );
    assert_eq!(
        app.state
            .store
            .list_organizations()
            .await
            .unwrap()
            .iter()
            .filter(|o| o.name == "New Firm")
            .count(),
        1
    );
}

async fn users_import_reads_stdin_and_a_user_without_a_hash_cannot_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lines = [
        json!({"email": "kim@example.com", "name": "Kim", "organizations": [{"name": "Kim's Firm", "role": "owner"}]}),
        json!({"email": "lee@example.com", "name": "Lee", "passwordHash": hashes_of(PASSWORD)[5].1}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (succeeded, stdout, stderr) = output_of(&app.cli(&["users", "import", "-"], Some(&input)));
    assert!(succeeded, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("imported 2, skipped 0 (email exists), failed 0"),
        "{stdout}"
    );
    let kim = app
        .state
        .store
        .find_user_by_email("kim@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kim.password_hash, "");
    for attempt in ["anything at all", PASSWORD] {
        assert_eq!(
            sign_in(&app, "kim@example.com", attempt).await,
            401,
            "{attempt:?}"
        );
    }
    assert_eq!(stored_hash(&app, &kim.id).await, "", "nothing changes");
    assert_eq!(sign_in(&app, "lee@example.com", PASSWORD).await, 303);
}
