//! `latchkey users import FILE`: users from a JSON Lines file (`-` for
//! stdin), one per line, each through [`accounts::import::import_user`]
//! in its own transaction. Every line is reported on stdout — `ok` with
//! the new user's id, `skipped` when the email exists (the user is left as
//! it is, so running an import again is harmless), or `error` with what to
//! fix — and a summary ends the report. The exit status is non-zero when a
//! line failed. Blank lines are ignored. Nothing is hashed on import, so a
//! file of thousands of users takes seconds.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use super::CliResult;
use crate::accounts::import::{self, Directory, Imported, ImportedMembership, ImportedUser, OrganizationRef};
use crate::secret::Secret;
use crate::store::Store;
use crate::unix_now;

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    email: String,
    name: String,
    #[serde(default, rename = "emailVerified", alias = "email_verified")]
    email_verified: bool,
    #[serde(default, rename = "passwordHash", alias = "password_hash")]
    password_hash: Option<Secret>,
    #[serde(default)]
    organizations: Vec<LineOrganization>,
}

/// An organization of a line: by `id` (must exist) or by `name` (created
/// when missing); with both, the id counts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineOrganization {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    role: String,
}

/// What became of one line.
enum Outcome {
    Ok(String),
    Skipped(String),
    Failed(String),
}

pub(super) async fn run(store: &dyn Store, file: &Path) -> CliResult {
    let input: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        let opened = std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
        Box::new(opened)
    };
    let mut reader = BufReader::new(input);
    let mut directory = Directory::default();
    let (mut imported, mut skipped, mut failed, mut lines) = (0u64, 0u64, 0u64, 0u64);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let read = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|e| format!("reading {} failed after line {lines}: {e}", file.display()))?;
        if read == 0 {
            break;
        }
        lines += 1;
        let outcome = match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => import_line(store, &mut directory, text).await,
            Err(_) => Outcome::Failed("the line is not UTF-8".to_owned()),
        };
        match outcome {
            Outcome::Ok(report) => {
                imported += 1;
                println!("line {lines}: ok {report}");
            }
            Outcome::Skipped(report) => {
                skipped += 1;
                println!("line {lines}: skipped: {report}");
            }
            Outcome::Failed(report) => {
                failed += 1;
                println!("line {lines}: error: {report}");
            }
        }
    }
    println!("imported {imported}, skipped {skipped} (email exists), failed {failed}");
    if failed > 0 {
        return Err(format!(
            "{failed} line(s) failed and were not imported; the others were"
        ));
    }
    Ok(())
}

async fn import_line(store: &dyn Store, directory: &mut Directory, text: &str) -> Outcome {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let line: Line = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(line) => line,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            return Outcome::Failed(if matches!(path.as_str(), "" | "." | "?") {
                format!("invalid JSON: {inner}")
            } else {
                format!("invalid JSON at `{path}`: {inner}")
            });
        }
    };
    if let Err(error) = deserializer.end() {
        return Outcome::Failed(format!("invalid JSON: {error} (one user per line)"));
    }
    let user = match imported_user(line) {
        Ok(user) => user,
        Err(message) => return Outcome::Failed(message),
    };
    match import::import_user(store, directory, user, unix_now()).await {
        Ok(Imported::Created {
            user,
            new_organizations,
        }) => {
            let mut report = format!("{} {}", user.id, user.email);
            if !new_organizations.is_empty() {
                let created: Vec<String> = new_organizations
                    .iter()
                    .map(|o| format!("{} ({})", o.name, o.id))
                    .collect();
                report.push_str(&format!("; created organization {}", created.join(", ")));
            }
            Outcome::Ok(report)
        }
        Ok(Imported::Exists(existing)) => Outcome::Skipped(format!(
            "a user with the email `{}` exists ({}); left unchanged",
            existing.email, existing.id
        )),
        Err(error) => Outcome::Failed(error.to_string()),
    }
}

/// The domain's view of a line; text holding NUL (which PostgreSQL cannot
/// store) is refused here, as the admin API refuses it at its edge.
fn imported_user(line: Line) -> Result<ImportedUser, String> {
    let mut texts = vec![&line.email, &line.name];
    for organization in &line.organizations {
        texts.extend(
            organization
                .id
                .iter()
                .chain(&organization.name)
                .chain([&organization.role]),
        );
    }
    let hash_has_nul = line
        .password_hash
        .as_ref()
        .is_some_and(|h| h.expose().contains('\0'));
    if hash_has_nul || texts.iter().any(|text| text.contains('\0')) {
        return Err("text must not contain the NUL character (\\u0000)".to_owned());
    }
    let mut organizations = Vec::with_capacity(line.organizations.len());
    for (index, organization) in line.organizations.into_iter().enumerate() {
        let reference = match (organization.id, organization.name) {
            (Some(id), _) => OrganizationRef::Id(id),
            (None, Some(name)) => OrganizationRef::Name(name),
            (None, None) => return Err(format!("organizations[{index}]: give its `name` or its `id`")),
        };
        organizations.push(ImportedMembership {
            organization: reference,
            role: organization.role,
        });
    }
    Ok(ImportedUser {
        email: line.email,
        name: line.name,
        email_verified: line.email_verified,
        password_hash: line.password_hash,
        organizations,
    })
}
