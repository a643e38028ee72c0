//! The password hash formats a user may bring from another system, and
//! the bounds on their cost. An imported hash is parsed here when it
//! arrives (so a malformed or absurdly expensive one is refused then, with
//! a message naming the problem, never the hash), and again by the
//! password workers at sign-in, which verify it with its own algorithm.
//! Argon2 hashes are verified by [`super::password`]'s workers with their
//! reusable memory; bcrypt, scrypt and PBKDF2-SHA256 here.
//!
//! Bounds (one sign-in must not cost an attacker-chosen amount of CPU or
//! memory; each is a few times today's common defaults):
//!
//! - argon2id / argon2i: memory at most [`MAX_ARGON2_MEMORY_KIB`] KiB
//!   (64 MiB), passes at most [`MAX_ARGON2_PASSES`], memory × passes at
//!   most [`MAX_ARGON2_WORK_KIB`] KiB (64 MiB four times), lanes at most
//!   [`MAX_LANES`];
//! - bcrypt: cost from 4 to [`MAX_BCRYPT_COST`] (16: 65,536 rounds);
//! - scrypt: memory (128 · r · N bytes) at most [`MAX_SCRYPT_MEMORY_BYTES`]
//!   (64 MiB), N · r · p at most [`MAX_SCRYPT_WORK`] (2^20), p at most
//!   [`MAX_LANES`];
//! - PBKDF2-SHA256: 1,000 to [`MAX_PBKDF2_ITERATIONS`] iterations (five
//!   times Django's current default).
//!
//! Salts are at most [`MAX_SALT_BYTES`] bytes and hashes 16 to 64 bytes
//! (bcrypt's are fixed).

use std::num::NonZeroU32;

use argon2::password_hash::phc::PasswordHash;
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The largest argon2 memory cost, in KiB.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// The most argon2 passes.
pub const MAX_ARGON2_PASSES: u32 = 16;
/// The largest argon2 memory × passes, in KiB.
pub const MAX_ARGON2_WORK_KIB: u64 = 4 * 64 * 1024;
/// The most argon2 lanes or scrypt parallelism.
pub const MAX_LANES: u32 = 16;
/// The lowest bcrypt cost (the algorithm's own minimum).
pub const MIN_BCRYPT_COST: u32 = 4;
/// The highest bcrypt cost.
pub const MAX_BCRYPT_COST: u32 = 16;
/// The most memory one scrypt check may take, in bytes.
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// The largest scrypt N · r · p.
pub const MAX_SCRYPT_WORK: u64 = 1 << 20;
/// The fewest PBKDF2 iterations (below, the hash is not worth keeping).
pub const MIN_PBKDF2_ITERATIONS: u32 = 1_000;
/// The most PBKDF2 iterations.
pub const MAX_PBKDF2_ITERATIONS: u32 = 5_000_000;
/// The longest salt, in bytes.
pub const MAX_SALT_BYTES: usize = 64;
const HASH_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// The formats, as a refusal names them.
pub const SUPPORTED: &str = "argon2id or argon2i PHC strings (`$argon2id$v=19$m=…,t=…,p=…$…`), \
     bcrypt (`$2a$`, `$2b$`, `$2y$`), scrypt PHC strings (`$scrypt$ln=…,r=…,p=…$…`), \
     and PBKDF2-SHA256 (`$pbkdf2-sha256$i=…$…`, passlib's `$pbkdf2-sha256$<rounds>$…`, \
     or Django's `pbkdf2_sha256$<iterations>$<salt>$<hash>`)";

/// Why a hash is refused; the message names the problem, never the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(String);

fn refuse(message: impl Into<String>) -> FormatError {
    FormatError(message.into())
}

/// A hash's algorithm family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Argon2,
    Bcrypt,
    Scrypt,
    Pbkdf2Sha256,
}

impl Algorithm {
    /// The name the audit log gives it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Argon2 => "argon2",
            Self::Bcrypt => "bcrypt",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2Sha256 => "pbkdf2-sha256",
        }
    }
}

/// A stored hash, parsed and within bounds.
pub(crate) enum Parsed<'a> {
    /// Verified by the password workers' own argon2 code.
    Argon2,
    Bcrypt(&'a str),
    Scrypt {
        params: scrypt::Params,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2Sha256 {
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

impl Parsed<'_> {
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Argon2 => Algorithm::Argon2,
            Self::Bcrypt(_) => Algorithm::Bcrypt,
            Self::Scrypt { .. } => Algorithm::Scrypt,
            Self::Pbkdf2Sha256 { .. } => Algorithm::Pbkdf2Sha256,
        }
    }
}

/// Checks that `hash` is a supported format within bounds; its algorithm.
pub fn check(hash: &str) -> Result<Algorithm, FormatError> {
    parse(hash).map(|parsed| parsed.algorithm())
}

/// Parses a stored hash, refusing what is malformed or beyond the bounds.
pub(crate) fn parse(hash: &str) -> Result<Parsed<'_>, FormatError> {
    if hash.starts_with("$argon2") {
        return argon2(hash).map(|()| Parsed::Argon2);
    }
    if hash.starts_with("$2") {
        return bcrypt(hash).map(|()| Parsed::Bcrypt(hash));
    }
    if hash.starts_with("$scrypt$") {
        return scrypt(hash);
    }
    if let Some(rest) = hash.strip_prefix("$pbkdf2-sha256$") {
        return pbkdf2_modular(rest);
    }
    if let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") {
        return pbkdf2_django(rest);
    }
    Err(refuse(format!(
        "unknown password hash format; supported are {SUPPORTED}"
    )))
}

fn argon2(hash: &str) -> Result<(), FormatError> {
    let parsed = PasswordHash::new(hash).map_err(|_| refuse("not a well-formed argon2 PHC string"))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" => {}
        other => {
            return Err(refuse(format!(
                "`{other}` is not supported; argon2id and argon2i are"
            )));
        }
    }
    if !matches!(parsed.version, None | Some(0x10 | 0x13)) {
        return Err(refuse("the argon2 version must be 16 or 19"));
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|error| refuse(format!("invalid argon2 parameters: {error}")))?;
    let (memory, passes, lanes) = (params.m_cost(), params.t_cost(), params.p_cost());
    if memory > MAX_ARGON2_MEMORY_KIB {
        return Err(refuse(format!(
            "argon2 memory m={memory} KiB is above the limit of {MAX_ARGON2_MEMORY_KIB}"
        )));
    }
    if passes > MAX_ARGON2_PASSES || u64::from(memory) * u64::from(passes) > MAX_ARGON2_WORK_KIB {
        return Err(refuse(format!(
            "argon2 passes t={passes} are above the limit ({MAX_ARGON2_PASSES}, and m × t at most {MAX_ARGON2_WORK_KIB})"
        )));
    }
    if lanes > MAX_LANES {
        return Err(refuse(format!(
            "argon2 lanes p={lanes} are above the limit of {MAX_LANES}"
        )));
    }
    let (Some(salt), Some(output)) = (&parsed.salt, &parsed.hash) else {
        return Err(refuse("the argon2 hash has no salt or no hash"));
    };
    if salt.len() > MAX_SALT_BYTES || !HASH_BYTES.contains(&output.len()) {
        return Err(refuse(
            "the argon2 salt must be at most 64 bytes and the hash 16 to 64",
        ));
    }
    Ok(())
}

/// bcrypt's own base64 (`./A-Za-z0-9`, no padding).
const BCRYPT_BASE64: GeneralPurpose =
    GeneralPurpose::new(&alphabet::BCRYPT, base64::engine::general_purpose::NO_PAD);

/// `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 22 characters of salt
/// and 31 of hash.
fn bcrypt(hash: &str) -> Result<(), FormatError> {
    let malformed = || refuse("not a well-formed bcrypt hash (`$2b$12$` and 53 characters)");
    let prefix = hash.get(..4).ok_or_else(malformed)?;
    if !["$2a$", "$2b$", "$2y$"].contains(&prefix) {
        return Err(refuse(format!(
            "unsupported bcrypt variant; $2a$, $2b$ and $2y$ are supported (supported formats: {SUPPORTED})"
        )));
    }
    if hash.len() != 60 || !hash.is_ascii() || hash.as_bytes()[6] != b'$' {
        return Err(malformed());
    }
    let cost = hash[4..6]
        .parse::<u32>()
        .ok()
        .filter(|_| hash.as_bytes()[4..6].iter().all(u8::is_ascii_digit))
        .ok_or_else(malformed)?;
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(refuse(format!(
            "bcrypt cost {cost} is outside {MIN_BCRYPT_COST} to {MAX_BCRYPT_COST}"
        )));
    }
    let (mut salt, mut digest) = ([0u8; 16], [0u8; 23]);
    let decodes = BCRYPT_BASE64.decode_slice(&hash[7..29], &mut salt).is_ok()
        && BCRYPT_BASE64.decode_slice(&hash[29..], &mut digest).is_ok();
    if !decodes {
        return Err(malformed());
    }
    Ok(())
}

/// Standard base64, padded or not (PHC strings leave the padding out).
const PHC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The salt or hash field of a PHC or modular string; passlib writes `.`
/// for `+`.
fn field_bytes(text: &str, what: &str) -> Result<Vec<u8>, FormatError> {
    PHC_BASE64
        .decode(text.replace('.', "+"))
        .map_err(|_| refuse(format!("the {what} is not base64")))
}

fn salt_and_hash(salt: &str, hash: &str, algorithm: &str) -> Result<(Vec<u8>, Vec<u8>), FormatError> {
    let salt = field_bytes(salt, &format!("{algorithm} salt"))?;
    let hash = field_bytes(hash, &format!("{algorithm} hash"))?;
    if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
        return Err(refuse(format!(
            "the {algorithm} salt must be 1 to {MAX_SALT_BYTES} bytes"
        )));
    }
    if !HASH_BYTES.contains(&hash.len()) {
        return Err(refuse(format!("the {algorithm} hash must be 16 to 64 bytes")));
    }
    Ok((salt, hash))
}

/// A whole number parameter.
fn number(text: &str, name: &str) -> Result<u64, FormatError> {
    text.parse::<u64>()
        .ok()
        .filter(|_| !text.starts_with('+'))
        .ok_or_else(|| refuse(format!("{name} must be a whole number")))
}

/// `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`.
fn scrypt(hash: &str) -> Result<Parsed<'static>, FormatError> {
    let fields: Vec<&str> = hash.split('$').collect();
    let ["", "scrypt", params, salt, digest] = fields.as_slice() else {
        return Err(refuse(
            "not a well-formed scrypt PHC string (`$scrypt$ln=…,r=…,p=…$salt$hash`)",
        ));
    };
    let (mut log_n, mut r, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "ln" => &mut log_n,
            "r" => &mut r,
            "p" => &mut p,
            other => return Err(refuse(format!("unknown scrypt parameter `{other}`"))),
        };
        *slot = Some(number(value, &format!("scrypt {name}"))?);
    }
    let (Some(log_n), Some(r), Some(p)) = (log_n, r, p) else {
        return Err(refuse("scrypt needs the parameters ln, r and p"));
    };
    if !(1..=u64::from(MAX_LANES)).contains(&p) || r == 0 || !(1..=32).contains(&log_n) {
        return Err(refuse(format!(
            "scrypt parameters out of range (ln 1 to 32, r at least 1, p 1 to {MAX_LANES})"
        )));
    }
    let n = 1u64 << log_n;
    let memory = n.saturating_mul(r).saturating_mul(128);
    if memory > MAX_SCRYPT_MEMORY_BYTES || n.saturating_mul(r).saturating_mul(p) > MAX_SCRYPT_WORK {
        return Err(refuse(format!(
            "scrypt cost ln={log_n},r={r},p={p} is above the limits (128·r·N at most \
             {MAX_SCRYPT_MEMORY_BYTES} bytes, N·r·p at most {MAX_SCRYPT_WORK})"
        )));
    }
    let params = match (u8::try_from(log_n), u32::try_from(r), u32::try_from(p)) {
        (Ok(log_n), Ok(r), Ok(p)) => scrypt::Params::new(log_n, r, p).ok(),
        _ => None,
    }
    .ok_or_else(|| refuse("invalid scrypt parameters"))?;
    let (salt, hash) = salt_and_hash(salt, digest, "scrypt")?;
    Ok(Parsed::Scrypt { params, salt, hash })
}

fn iterations(count: u64) -> Result<NonZeroU32, FormatError> {
    if !(u64::from(MIN_PBKDF2_ITERATIONS)..=u64::from(MAX_PBKDF2_ITERATIONS)).contains(&count) {
        return Err(refuse(format!(
            "PBKDF2 iterations {count} are outside {MIN_PBKDF2_ITERATIONS} to {MAX_PBKDF2_ITERATIONS}"
        )));
    }
    u32::try_from(count)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| refuse("invalid PBKDF2 iterations"))
}

/// After `$pbkdf2-sha256$`: `i=<iterations>[,l=<length>]$<salt>$<hash>`
/// (PHC) or `<rounds>$<salt>$<hash>` (passlib).
fn pbkdf2_modular(rest: &str) -> Result<Parsed<'static>, FormatError> {
    let fields: Vec<&str> = rest.split('$').collect();
    let [params, salt, digest] = fields.as_slice() else {
        return Err(refuse(
            "not a well-formed PBKDF2-SHA256 string (`$pbkdf2-sha256$i=…$salt$hash`)",
        ));
    };
    let mut count = None;
    let mut length = None;
    if params.bytes().all(|b| b.is_ascii_digit()) {
        count = Some(number(params, "PBKDF2 rounds")?);
    } else {
        for pair in params.split(',') {
            match pair.split_once('=') {
                Some(("i", value)) => count = Some(number(value, "PBKDF2 i")?),
                Some(("l", value)) => length = Some(number(value, "PBKDF2 l")?),
                _ => return Err(refuse(format!("unknown PBKDF2 parameter `{pair}`"))),
            }
        }
    }
    let iterations = iterations(count.ok_or_else(|| refuse("PBKDF2 needs the iterations (i=…)"))?)?;
    let (salt, hash) = salt_and_hash(salt, digest, "PBKDF2")?;
    if length.is_some_and(|l| l != hash.len() as u64) {
        return Err(refuse("the PBKDF2 length l does not match the hash"));
    }
    Ok(Parsed::Pbkdf2Sha256 {
        iterations,
        salt,
        hash,
    })
}

/// After Django's `pbkdf2_sha256$`: `<iterations>$<salt>$<base64 hash>`;
/// Django's salt is text, used as its UTF-8 bytes.
fn pbkdf2_django(rest: &str) -> Result<Parsed<'static>, FormatError> {
    let fields: Vec<&str> = rest.split('$').collect();
    let [count, salt, digest] = fields.as_slice() else {
        return Err(refuse(
            "not a well-formed Django hash (`pbkdf2_sha256$<iterations>$<salt>$<hash>`)",
        ));
    };
    let iterations = iterations(number(count, "Django's iterations")?)?;
    if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
        return Err(refuse(format!(
            "the Django salt must be 1 to {MAX_SALT_BYTES} bytes"
        )));
    }
    let hash = base64::engine::general_purpose::STANDARD
        .decode(digest)
        .map_err(|_| refuse("the Django hash is not base64"))?;
    if !HASH_BYTES.contains(&hash.len()) {
        return Err(refuse("the Django hash must be 16 to 64 bytes"));
    }
    Ok(Parsed::Pbkdf2Sha256 {
        iterations,
        salt: salt.as_bytes().to_vec(),
        hash,
    })
}

/// Whether `password` matches a parsed bcrypt, scrypt or PBKDF2 hash,
/// compared in constant time; argon2 is the workers' (always `false` here).
pub(crate) fn verify_other(parsed: &Parsed<'_>, password: &Secret) -> bool {
    let password = password.expose().as_bytes();
    match parsed {
        Parsed::Argon2 => false,
        // bcrypt reads at most 72 bytes of a password, as the system that
        // made the hash did.
        Parsed::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        Parsed::Scrypt { params, salt, hash } => {
            let mut output = vec![0u8; hash.len()];
            scrypt::scrypt(password, salt, params, &mut output).is_ok()
                && bool::from(output.as_slice().ct_eq(hash))
        }
        Parsed::Pbkdf2Sha256 {
            iterations,
            salt,
            hash,
        } => aws_lc_rs::pbkdf2::verify(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            *iterations,
            salt,
            password,
            hash,
        )
        .is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery staple";

    fn verifies(hash: &str, password: &str) -> bool {
        let parsed = parse(hash).unwrap_or_else(|e| panic!("{hash}: {e}"));
        verify_other(&parsed, &Secret::new(password))
    }

    #[test]
    fn bcrypt_hashes_of_each_variant_verify() {
        let made = bcrypt::hash(PASSWORD, 4).unwrap();
        assert!(made.starts_with("$2b$04$"), "{made}");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let hash = made.replacen("$2b$", prefix, 1);
            assert_eq!(check(&hash), Ok(Algorithm::Bcrypt));
            assert!(verifies(&hash, PASSWORD), "{hash}");
            assert!(!verifies(&hash, "Correct horse battery staple"), "{hash}");
        }
        // bcrypt reads the first 72 bytes of a password, as the system
        // that made the hash did.
        let long = "x".repeat(72);
        let hash = bcrypt::hash(&long, 4).unwrap();
        assert!(verifies(&hash, &format!("{long}and more")));
    }

    #[test]
    fn bcrypt_costs_and_shapes_out_of_bounds_are_refused() {
        let made = bcrypt::hash(PASSWORD, 4).unwrap();
        for (hash, expected) in [
            (made.replacen("$04$", "$17$", 1), "bcrypt cost 17"),
            (made.replacen("$04$", "$03$", 1), "bcrypt cost 3"),
            (made.replacen("$04$", "$31$", 1), "bcrypt cost 31"),
            (made.replacen("$2b$", "$2x$", 1), "unsupported bcrypt variant"),
            (made[..59].to_owned(), "not a well-formed bcrypt"),
            (format!("{}!", &made[..59]), "not a well-formed bcrypt"),
            (made.replacen("$04$", "$+4$", 1), "not a well-formed bcrypt"),
        ] {
            let refused = check(&hash).unwrap_err().to_string();
            assert!(refused.contains(expected), "{hash}: {refused}");
            assert!(
                !refused.contains(&made[7..]),
                "the hash is never echoed: {refused}"
            );
        }
    }

    #[test]
    fn scrypt_phc_strings_made_by_the_scrypt_crate_verify() {
        use scrypt::password_hash::PasswordHasher as _;
        let hasher = scrypt::Scrypt::new_with_params(scrypt::Params::new(10, 8, 2).unwrap());
        let hash = hasher
            .hash_password_with_salt(PASSWORD.as_bytes(), b"sixteen byte salt")
            .unwrap()
            .to_string();
        assert!(hash.starts_with("$scrypt$ln=10,r=8,p=2$"), "{hash}");
        assert_eq!(check(&hash), Ok(Algorithm::Scrypt));
        assert!(verifies(&hash, PASSWORD));
        assert!(!verifies(&hash, "wrong"));
    }

    #[test]
    fn scrypt_costs_beyond_the_bounds_are_refused() {
        let tail = "$c2l4dGVlbiBieXRlIHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            check(&format!("$scrypt$ln=16,r=8,p=1{tail}")),
            Ok(Algorithm::Scrypt)
        );
        for (params, expected) in [
            ("ln=17,r=8,p=1", "above the limits"),
            ("ln=16,r=8,p=3", "above the limits"),
            ("ln=10,r=8,p=17", "out of range"),
            ("ln=40,r=8,p=1", "out of range"),
            ("ln=10,r=0,p=1", "out of range"),
            ("ln=10,r=8", "needs the parameters"),
            ("ln=10,r=8,p=1,x=2", "unknown scrypt parameter"),
            ("ln=ten,r=8,p=1", "whole number"),
        ] {
            let refused = check(&format!("$scrypt${params}{tail}")).unwrap_err().to_string();
            assert!(refused.contains(expected), "{params}: {refused}");
        }
        assert!(check("$scrypt$ln=10,r=8,p=1$c2FsdA").is_err());
    }

    #[test]
    fn pbkdf2_phc_and_passlib_strings_verify() {
        use pbkdf2::password_hash::PasswordHasher as _;
        let hasher = pbkdf2::Pbkdf2::new(
            pbkdf2::Algorithm::Pbkdf2Sha256,
            pbkdf2::Params::new(1_000).unwrap(),
        );
        let phc = hasher
            .hash_password_with_salt(PASSWORD.as_bytes(), b"a salt of 24 bytes......")
            .unwrap()
            .to_string();
        assert!(phc.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{phc}");
        assert_eq!(check(&phc), Ok(Algorithm::Pbkdf2Sha256));
        assert!(verifies(&phc, PASSWORD));
        assert!(!verifies(&phc, "wrong"));
        // passlib's form: rounds alone, `.` for `+`.
        let (_, fields) = phc.split_once("l=32$").unwrap();
        let passlib = format!("$pbkdf2-sha256$1000${}", fields.replace('+', "."));
        assert!(verifies(&passlib, PASSWORD), "{passlib}");
        // passlib's documented example ("password", 6400 rounds), checked
        // with Python's hashlib.
        let documented =
            "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M";
        assert!(verifies(documented, "password"));
        assert!(!verifies(documented, "Password"));
    }

    #[test]
    fn a_django_hash_computed_by_python_verifies() {
        // python3 -c "import hashlib,base64; print(base64.b64encode(hashlib.pbkdf2_hmac(
        //   'sha256', b'correct horse battery staple', b'DjangoSaltValue42', 10000)).decode())"
        let django = "pbkdf2_sha256$10000$DjangoSaltValue42$4ALs2TYpFA3Xxqf8OlKcdVR+SR+h+cHoSk6HWHIqFsg=";
        assert_eq!(check(django), Ok(Algorithm::Pbkdf2Sha256));
        assert!(verifies(django, PASSWORD));
        assert!(!verifies(django, "correct horse battery stapler"));
    }

    #[test]
    fn pbkdf2_iterations_and_shapes_out_of_bounds_are_refused() {
        let salted = "$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for (hash, expected) in [
            (
                format!("$pbkdf2-sha256$i=5000001{salted}"),
                "outside 1000 to 5000000",
            ),
            (format!("$pbkdf2-sha256$999{salted}"), "outside 1000"),
            (format!("$pbkdf2-sha256$i=2000,l=16{salted}"), "does not match"),
            (
                format!("$pbkdf2-sha256$i=2000,x=1{salted}"),
                "unknown PBKDF2 parameter",
            ),
            ("$pbkdf2-sha256$i=2000$c2FsdA".to_owned(), "not a well-formed"),
            (format!("$pbkdf2-sha256$i=2000$!!{salted}"), "not a well-formed"),
            ("pbkdf2_sha256$99999999$salt$AAAA".to_owned(), "outside"),
            ("pbkdf2_sha256$10000$salt$AAAA".to_owned(), "16 to 64 bytes"),
            ("pbkdf2_sha256$10000$salt$***".to_owned(), "not base64"),
        ] {
            let refused = check(&hash).unwrap_err().to_string();
            assert!(refused.contains(expected), "{hash}: {refused}");
        }
    }

    #[test]
    fn argon2_hashes_within_bounds_are_accepted_and_others_refused() {
        use argon2::PasswordHasher as _;
        let made = |algorithm, m, t, p| {
            argon2::Argon2::new(
                algorithm,
                argon2::Version::V0x13,
                argon2::Params::new(m, t, p, None).unwrap(),
            )
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string()
        };
        assert_eq!(
            check(&made(argon2::Algorithm::Argon2id, 19 * 1024, 2, 1)),
            Ok(Algorithm::Argon2)
        );
        assert_eq!(
            check(&made(argon2::Algorithm::Argon2i, 8 * 1024, 3, 4)),
            Ok(Algorithm::Argon2)
        );
        let too_much = made(argon2::Algorithm::Argon2id, 64, 1, 1).replace("m=64,t=1", "m=65537,t=1");
        assert!(check(&too_much).unwrap_err().to_string().contains("m=65537"));
        let too_long = made(argon2::Algorithm::Argon2id, 64, 1, 1).replace("m=64,t=1", "m=65536,t=5");
        assert!(check(&too_long).unwrap_err().to_string().contains("t=5"));
        let argon2d = made(argon2::Algorithm::Argon2d, 64, 1, 1);
        assert!(check(&argon2d).unwrap_err().to_string().contains("argon2d"));
        assert!(check("$argon2id$v=19$m=64,t=1,p=1").is_err());
    }

    #[test]
    fn unknown_formats_are_refused_naming_the_supported_ones() {
        for hash in [
            "",
            "plaintext",
            "$1$salt$md5hash",
            "$6$rounds=5000$salt$sha512",
            "{SSHA}abc",
        ] {
            let refused = check(hash).unwrap_err().to_string();
            assert!(refused.contains("unknown password hash format"), "{refused}");
            assert!(
                refused.contains("bcrypt") && refused.contains("pbkdf2_sha256$"),
                "{refused}"
            );
        }
    }
}
