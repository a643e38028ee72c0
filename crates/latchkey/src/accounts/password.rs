//! User passwords: argon2id with m=12 MiB, t=3, p=1 (one of the equivalent
//! settings OWASP's password storage guidance lists, the same work as
//! 19 MiB with t=2 in less memory), computed on a fixed set of worker
//! threads behind a short bounded queue. Stored hashes with other
//! parameters or algorithms (older ones, imported ones: bcrypt, scrypt,
//! PBKDF2-SHA256, see [`super::hash_formats`]) verify with their own, on
//! the same workers, and a successful check can ask for the password's
//! fresh argon2id hash in the same job ([`Passwords::verify_and_upgrade`]).
//! A hash that does not parse (a user without a password) costs the same
//! decoy check as an unknown email. Each
//! computation holds its memory, and an unauthenticated sign-in
//! can start one, so their number is the one thing that bounds the
//! server's memory under a flood: when every worker is busy and the queue
//! is full, the caller is told at once ([`HashError::Busy`]) instead of
//! waiting or allocating. Each worker allocates its argon2 working memory
//! on its first job and reuses it through a burst of sign-ins (allocating
//! it per check made the C allocator fragment and keep hundreds of MiB),
//! then gives it back once it has had no work for [`KEEP_MEMORY_IDLE`], so
//! an idle server does not hold 12 MiB per worker. Only user passwords
//! are hashed this way; machine secrets use a digest.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use super::hash_formats;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// Every worker is busy and the queue is full: retry shortly.
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed")]
    Failed,
}

enum Job {
    Hash {
        password: Secret,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    /// `hash: None` verifies against a decoy, so an unknown email costs
    /// the same as a wrong password. With `upgrade`, a match on a hash
    /// that is not [`is_current`] also hashes the password anew.
    Verify {
        password: Secret,
        hash: Option<String>,
        upgrade: bool,
        reply: oneshot::Sender<Verified>,
    },
}

/// What a password check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The password's fresh argon2id hash, when it matched a hash that is
    /// not current and an upgrade was asked for (`None` if hashing failed:
    /// the old hash stays, the check still stands).
    pub upgraded: Option<String>,
}

/// How long a worker keeps its argon2 memory after its last job: a burst
/// of sign-ins reuses it, an idle server gives it back.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(2);

/// The jobs waiting for a worker, and whether the pool is gone.
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// What the pool and its workers share.
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
    /// Jobs refused because every worker and queue place was busy.
    rejected: AtomicU64,
}

/// The bounded pool every password hash and check runs on.
pub struct Passwords {
    shared: Arc<Shared>,
    workers: usize,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("workers", &self.workers)
            .field("queue", &self.shared.capacity)
            .finish()
    }
}

/// The number of workers to use when none is configured: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

impl Passwords {
    /// Starts `workers` threads (at least one) with room for `queue` waiting
    /// jobs (at least one). The threads end when the pool is dropped.
    pub fn start(workers: usize, queue: usize) -> Self {
        let (workers, capacity) = (workers.max(1), queue.max(1));
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity,
            rejected: AtomicU64::new(0),
        });
        for index in 0..workers {
            let shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || work(&shared));
            if let Err(error) = spawned {
                tracing::error!(%error, "starting a password worker failed");
            }
        }
        Self { shared, workers }
    }

    /// How many jobs were refused with [`HashError::Busy`] so far.
    pub fn rejections(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        let mut queue = self.shared.queue.lock().map_err(|_| HashError::Failed)?;
        if queue.jobs.len() >= self.shared.capacity {
            self.shared.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(HashError::Busy);
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// The PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: Secret) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| HashError::Failed)?
    }

    /// Whether `password` matches the PHC string `hash` (malformed hashes
    /// never match); with `None`, a decoy check that never matches.
    pub async fn verify(&self, password: Secret, hash: Option<String>) -> Result<bool, HashError> {
        Ok(self.check(password, hash, false).await?.matches)
    }

    /// [`Passwords::verify`], and on a match against a hash that is not
    /// [`is_current`] (an imported or older one), the password's fresh
    /// argon2id hash, computed in the same job.
    pub async fn verify_and_upgrade(
        &self,
        password: Secret,
        hash: Option<String>,
    ) -> Result<Verified, HashError> {
        self.check(password, hash, true).await
    }

    async fn check(
        &self,
        password: Secret,
        hash: Option<String>,
        upgrade: bool,
    ) -> Result<Verified, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            hash,
            upgrade,
            reply,
        })?;
        answer.await.map_err(|_| HashError::Failed)
    }
}

impl Drop for Passwords {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.shared.queue.lock() {
            queue.closed = true;
        }
        self.shared.ready.notify_all();
    }
}

/// The largest argon2 memory cost a stored hash may ask for, in KiB; a
/// hash asking for more never matches rather than allocating it.
const MAX_MEMORY_KIB: u32 = hash_formats::MAX_ARGON2_MEMORY_KIB;

/// A worker's argon2 working memory, grown to the largest cost seen and
/// given back after [`KEEP_MEMORY_IDLE`] without work.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let count = params.block_count();
        if self.0.len() < count {
            self.0 = vec![Block::default(); count];
        }
        &mut self.0[..count]
    }

    fn release(&mut self) {
        self.0 = Vec::new();
    }
}

/// The next job, waiting for one as long as it takes; the worker's memory
/// is released once it has waited [`KEEP_MEMORY_IDLE`]. `None` when the
/// pool is gone.
fn next_job(shared: &Shared, memory: &mut Memory) -> Option<Job> {
    let mut queue = shared.queue.lock().ok()?;
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            return Some(job);
        }
        if queue.closed {
            return None;
        }
        if memory.0.is_empty() {
            queue = shared.ready.wait(queue).ok()?;
        } else {
            let (guard, waited) = shared.ready.wait_timeout(queue, KEEP_MEMORY_IDLE).ok()?;
            queue = guard;
            if waited.timed_out() && queue.jobs.is_empty() {
                // Unmapping 12 MiB takes a moment: not while holding the queue.
                drop(queue);
                memory.release();
                queue = shared.queue.lock().ok()?;
            }
        }
    }
}

/// A worker: takes one job at a time until the pool is dropped.
fn work(shared: &Shared) {
    let mut memory = Memory::default();
    while let Some(job) = next_job(shared, &mut memory) {
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_now(&mut memory, &password));
            }
            Job::Verify {
                password,
                hash,
                upgrade,
                reply,
            } => {
                let matches = verify_any(&mut memory, &password, hash.as_deref());
                let upgraded = match &hash {
                    Some(hash) if matches && upgrade && !is_current(hash) => {
                        hash_now(&mut memory, &password).ok()
                    }
                    _ => None,
                };
                let _ = reply.send(Verified { matches, upgraded });
            }
        }
    }
}

/// The parameters of new hashes: 12 MiB, three passes, one lane.
const NEW_MEMORY_KIB: u32 = 12 * 1024;
const NEW_PASSES: u32 = 3;

fn new_hash_params() -> Result<Params, argon2::Error> {
    Params::new(NEW_MEMORY_KIB, NEW_PASSES, 1, None)
}

/// Whether `hash` is argon2id with the parameters of new hashes (else a
/// successful sign-in replaces it).
pub fn is_current(hash: &str) -> bool {
    hash.starts_with(&format!("$argon2id$v=19$m={NEW_MEMORY_KIB},t={NEW_PASSES},p=1$"))
}

/// Whether `password` matches `hash` in whichever supported format it is;
/// `None` or a hash that does not parse costs a decoy argon2 check and
/// never matches.
fn verify_any(memory: &mut Memory, password: &Secret, hash: Option<&str>) -> bool {
    match hash.map(hash_formats::parse) {
        Some(Ok(hash_formats::Parsed::Argon2)) => hash.is_some_and(|phc| verify_now(memory, password, phc)),
        Some(Ok(other)) => hash_formats::verify_other(&other, password),
        Some(Err(_)) | None => {
            let decoy = decoy_hash(memory);
            verify_now(memory, password, decoy);
            false
        }
    }
}

/// The PHC string of argon2id with [`new_hash_params`] and a fresh
/// random salt.
fn hash_now(memory: &mut Memory, password: &Secret) -> Result<String, HashError> {
    let failed = |_| HashError::Failed;
    let random = argon2::password_hash::try_generate_salt().map_err(|_| HashError::Failed)?;
    let salt = Salt::new(&random).map_err(failed)?;
    let params = new_hash_params().map_err(|_| HashError::Failed)?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            &salt,
            &mut output,
            memory.blocks(&params),
        )
        .map_err(|_| HashError::Failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| HashError::Failed)?,
        salt: Some(salt),
        hash: Some(Output::new(&output).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the argon2 PHC string `phc`, computed in
/// the worker's memory and compared in constant time.
fn verify_now(memory: &mut Memory, password: &Secret, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a stored password hash asks for too much memory"
        );
        return false;
    }
    let mut output = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.expose().as_bytes(),
        salt,
        &mut output,
        memory.blocks(&params),
    );
    computed.is_ok() && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
}

/// A hash to check against when the email is unknown, made once.
fn decoy_hash(memory: &mut Memory) -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        hash_now(memory, &Secret::new("decoy password for unknown users")).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_the_same_password() {
        let passwords = Passwords::start(1, 4);
        let phc = passwords
            .hash(Secret::new("correct horse battery staple"))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{phc}");
        let verify = |password: &str, phc: Option<String>| passwords.verify(Secret::new(password), phc);
        assert_eq!(
            verify("correct horse battery staple", Some(phc.clone())).await,
            Ok(true)
        );
        assert_eq!(verify("wrong", Some(phc)).await, Ok(false));
        assert_eq!(verify("x", Some("not a hash".into())).await, Ok(false));
        assert_eq!(verify("decoy password for unknown users", None).await, Ok(false));
        // Hashes made elsewhere with other parameters verify with theirs.
        use argon2::PasswordHasher as _;
        for argon in [
            Argon2::default(),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(8 * 1024, 2, 1, None).unwrap(),
            ),
        ] {
            let older = argon.hash_password(b"an older password").unwrap().to_string();
            assert_eq!(verify("an older password", Some(older.clone())).await, Ok(true));
            assert_eq!(verify("not this one", Some(older)).await, Ok(false));
        }
    }

    #[tokio::test]
    async fn only_a_match_on_a_hash_that_is_not_current_is_upgraded() {
        let passwords = Passwords::start(1, 4);
        let password = "an imported password";
        let check = |hash: &str| passwords.verify_and_upgrade(Secret::new(password), Some(hash.to_owned()));
        let bcrypt = bcrypt::hash(password, 4).unwrap();
        let verified = check(&bcrypt).await.unwrap();
        assert!(verified.matches);
        let upgraded = verified.upgraded.unwrap();
        assert!(is_current(&upgraded), "{upgraded}");
        assert_eq!(
            passwords
                .verify(Secret::new(password), Some(upgraded.clone()))
                .await,
            Ok(true)
        );
        assert_eq!(
            check(&upgraded).await.unwrap(),
            Verified {
                matches: true,
                upgraded: None
            },
            "a current hash stays"
        );
        let wrong = passwords
            .verify_and_upgrade(Secret::new("another password"), Some(bcrypt))
            .await
            .unwrap();
        assert_eq!(
            wrong,
            Verified {
                matches: false,
                upgraded: None
            }
        );
        // No hash (a user imported without one) never matches, not even
        // an empty password.
        for attempt in ["", password] {
            let none = passwords
                .verify_and_upgrade(Secret::new(attempt), Some(String::new()))
                .await;
            assert!(!none.unwrap().matches);
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_waiting() {
        let passwords = Arc::new(Passwords::start(1, 1));
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let passwords = Arc::clone(&passwords);
                tokio::spawn(async move { passwords.verify(Secret::new("guess"), None).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for attempt in attempts {
            outcomes.push(attempt.await.unwrap());
        }
        let busy = outcomes.iter().filter(|o| **o == Err(HashError::Busy)).count();
        let checked = outcomes.iter().filter(|o| **o == Ok(false)).count();
        // One running, one queued at most when the rest arrive.
        assert!(busy >= 5, "{outcomes:?}");
        assert_eq!(busy + checked, 8);
    }
}
