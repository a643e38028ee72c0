//! SQLite's hot path: the [`HotPath`] operations on SQLite connections of
//! their own, beside the sqlx pool that serves everything else.
//!
//! sqlx runs each SQLite connection on a worker thread and hands every
//! statement to it over a channel; on a point lookup that hand-off (a
//! futex wake and two context switches) costs several times what SQLite
//! spends. Here:
//!
//! - **Reads** run in place, on the calling task's thread: on the writer
//!   connection when it is free (its page cache survives its own writes),
//!   else on one of a few reader connections, each with its prepared
//!   statements cached. A read in WAL mode never waits for a writer, and an
//!   indexed lookup in the page cache takes microseconds; the rare wait (a
//!   WAL recovery) is bounded by a short busy timeout and answered as
//!   "unavailable". The cost of this choice: a read of a page that is
//!   neither in SQLite's cache nor the operating system's holds a runtime
//!   thread for the disk read.
//! - **Writes** run on the one writer connection, in transactions begun
//!   `IMMEDIATE` (they never fail half-way on a lock upgrade). Writes that
//!   arrive while another is running wait in a queue, and the next
//!   transaction commits all of them (group commit): each in a savepoint of
//!   its own, so a failing write undoes only itself, and the pages they
//!   share reach the WAL once. Whoever finds no runner at work becomes it:
//!   with `synchronous = NORMAL` a commit appends to the WAL without waiting
//!   for the disk, so the caller's task runs a batch or two in place when the
//!   writer connection is free and SQLite's write lock can be had at once;
//!   otherwise (the sqlx pool or another process holds the lock, the
//!   checkpoint holds the connection, or `synchronous = FULL`) a blocking
//!   thread takes over and waits up to the statement timeout. Each write
//!   is answered only after its transaction committed. A commit in place
//!   does not copy the WAL back into the database (that waits for the
//!   disk): every 250 ms a task does, in a blocking thread, on the writer's
//!   connection and holding it, so it copies every frame and the WAL starts
//!   over.
//! - A connection left inside a transaction by a failure (SQLite rolls back
//!   by itself on a full disk) is rolled back, and replaced if that fails,
//!   so no later write lands in a transaction nobody commits.
//!
//! The SQL is shared with PostgreSQL's implementation (`hot.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use crate::config::SqliteSynchronous;
use crate::secret::TokenDigest;

use super::accounts::{api_key, membership, organization, session, subject, user};
use super::clients::client;
use super::grants::{authorization_code, grant, refresh_token};
use super::hot::{self, HotPath};
use super::sql::json_list;
use super::{
    ApiKeyRecord, AuthorizationCodeRecord, ClientRecord, CodeExchange, GrantRecord, MembershipRecord,
    OrganizationRecord, RefreshContext, RefreshTokenRecord, SessionRecord, StoreError, SubjectRecord,
    UserRecord,
};

/// How long an in-place read may wait for a lock before the database is
/// reported unavailable: reads hold a runtime thread, so this stays short.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(100);
/// How often the WAL written by in-place commits is copied back.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);
/// Prepared statements kept per connection (the hot path has fewer).
const STATEMENT_CACHE: usize = 32;

/// Where and how the connections open.
#[derive(Debug, Clone)]
pub(super) struct DirectOptions {
    /// The database file, or a `file:` URI.
    pub path: PathBuf,
    /// An in-memory database shared with the sqlx pool (tests).
    pub in_memory: bool,
    pub synchronous: SqliteSynchronous,
    /// Each connection's page cache (`database.sqlite_cache_kib`).
    pub cache_kib: u32,
    /// How long the writer waits for the write lock.
    pub write_timeout: Duration,
    pub readers: usize,
}

pub(super) struct Direct {
    readers: Box<[Mutex<Connection>]>,
    next_reader: AtomicUsize,
    writer: Arc<Writer>,
}

/// The one writer connection and the writes waiting for it.
struct Writer {
    options: DirectOptions,
    connection: Mutex<Option<Connection>>,
    /// Whether batches may run in place: not under `synchronous = FULL`,
    /// where every commit waits for the disk.
    in_place: bool,
    queue: Mutex<Queue>,
    /// `Queue::running`, readable without the lock: reads keep off the
    /// writer connection while writes wait for it.
    busy: AtomicBool,
    /// Transactions committed: fewer than the writes when they batch.
    commits: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Box<dyn Job>>,
    /// Whether a runner (a task in place or a blocking thread) is taking
    /// the waiting writes; only it does, so none is ever left behind.
    running: bool,
}

/// A write waiting for the writer connection.
trait Job: Send {
    /// Runs the write inside the batch's transaction; its result is held
    /// until the batch ends.
    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn Ran>;
    /// The batch failed before the write ran.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A write that ran, waiting for its batch's end.
trait Ran: Send {
    fn succeeded(&self) -> bool;
    /// The batch committed: the write's own result goes to its caller.
    fn committed(self: Box<Self>);
    /// The batch did not commit: nothing of it was written.
    fn fail(self: Box<Self>, error: StoreError);
}

/// The writes of a batch that ran, in order.
type RanWrites = Vec<Box<dyn Ran>>;

struct Pending<T, F> {
    write: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

struct Done<T> {
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn Ran> {
        Box::new(Done {
            result: (self.write)(connection),
            reply: self.reply,
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Send + 'static> Ran for Done<T> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    fn committed(self: Box<Self>) {
        let _ = self.reply.send(self.result);
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Why a whole batch failed, given to each of its writes.
struct BatchFailure {
    unavailable: bool,
    reason: String,
}

impl BatchFailure {
    fn from(error: &StoreError) -> Self {
        Self {
            unavailable: matches!(error, StoreError::Unavailable(_)),
            reason: error.to_string(),
        }
    }

    fn error(&self) -> StoreError {
        let reason = self.reason.clone().into();
        if self.unavailable {
            StoreError::Unavailable(reason)
        } else {
            StoreError::Backend(reason)
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Direct {
    /// Opens the reader and writer connections; the database exists and is
    /// migrated already (by the sqlx pool).
    pub fn open(options: DirectOptions) -> Result<Self, StoreError> {
        let readers = (0..options.readers.max(1))
            .map(|_| open_connection(&options, Role::Reader).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let in_place = options.synchronous == SqliteSynchronous::Normal;
        let writer = open_connection(&options, Role::Writer)?;
        if in_place && !options.in_memory {
            // Commits in place must not copy the WAL back into the database
            // (and wait for the disk) now and then: a task does it instead.
            writer
                .execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")
                .map_err(map_error)?;
        }
        let writer = Arc::new(Writer {
            in_place,
            options: options.clone(),
            connection: Mutex::new(Some(writer)),
            queue: Mutex::default(),
            busy: AtomicBool::new(false),
            commits: AtomicU64::new(0),
        });
        if in_place && !options.in_memory {
            spawn_checkpoints(Arc::downgrade(&writer));
        }
        Ok(Self {
            readers: readers.into_boxed_slice(),
            next_reader: AtomicUsize::new(0),
            writer,
        })
    }

    /// Runs a read in place: on the writer connection when it is free and
    /// no write waits for it (its page cache is never invalidated by its
    /// own writes), else on a free reader, else waits for one (each is
    /// held for microseconds).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if !self.writer.busy.load(Ordering::Relaxed)
            && let Ok(slot) = self.writer.connection.try_lock()
            && let Some(connection) = slot.as_ref()
            && connection.is_autocommit()
        {
            return read(connection);
        }
        let count = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            if let Ok(connection) = self.readers[(start + offset) % count].try_lock() {
                return read(&connection);
            }
        }
        read(&lock(&self.readers[start]))
    }

    /// Runs a write, atomically (a failed write leaves nothing behind), and
    /// answers once it is committed. Writes that arrive together are
    /// committed together: one transaction for the batch, each write in a
    /// savepoint of its own, so one write's failure undoes only that write
    /// (group commit: the pages the writes share reach the WAL once, and
    /// no write waits for a thread of its own).
    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer.submit(Box::new(Pending { write, reply }));
        answer
            .await
            .map_err(|_| StoreError::Backend("the write was dropped unanswered".into()))?
    }
}

/// Batches a runner in place may run before it hands the rest to a
/// blocking thread (its own caller waits meanwhile).
const BATCHES_IN_PLACE: usize = 2;
/// Writes committed together at most.
const BATCH_LIMIT: usize = 64;

impl Writer {
    /// Queues a write; when no runner is at work, the caller becomes it.
    fn submit(self: &Arc<Self>, job: Box<dyn Job>) {
        {
            let mut queue = lock(&self.queue);
            queue.waiting.push(job);
            if queue.running {
                return;
            }
            queue.running = true;
            self.busy.store(true, Ordering::Relaxed);
        }
        self.run_in_place();
    }

    /// The waiting writes, up to a batch; `None`, and no runner any more,
    /// when there are none.
    fn take(&self) -> Option<Vec<Box<dyn Job>>> {
        let mut queue = lock(&self.queue);
        if queue.waiting.is_empty() {
            queue.running = false;
            self.busy.store(false, Ordering::Relaxed);
            return None;
        }
        let limit = queue.waiting.len().min(BATCH_LIMIT);
        let rest = queue.waiting.split_off(limit);
        Some(std::mem::replace(&mut queue.waiting, rest))
    }

    /// Puts writes back at the front (a batch that could not begin).
    fn put_back(&self, mut jobs: Vec<Box<dyn Job>>) {
        let mut queue = lock(&self.queue);
        jobs.append(&mut queue.waiting);
        queue.waiting = jobs;
    }

    /// As the runner, on the calling task's thread: batches run in place
    /// while the writer connection is free and SQLite's write lock can be
    /// had at once (a commit in WAL mode with `synchronous = NORMAL` writes
    /// to the WAL without waiting for the disk); otherwise a blocking
    /// thread takes over, which may wait for them.
    fn run_in_place(self: &Arc<Self>) {
        if self.in_place {
            for _ in 0..BATCHES_IN_PLACE {
                let Ok(mut slot) = self.connection.try_lock() else {
                    break;
                };
                let Some(jobs) = self.take() else {
                    return;
                };
                if let Err(jobs) = self.batch(&mut slot, jobs, Duration::ZERO) {
                    self.put_back(jobs);
                    break;
                }
            }
        }
        let writer = Arc::clone(self);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || writer.run_blocking());
            }
            Err(_) => writer.run_blocking(),
        }
    }

    /// As the runner, in a blocking thread: batches until none wait, each
    /// waiting for the writer connection and for SQLite's write lock (up to
    /// the statement timeout).
    fn run_blocking(&self) {
        loop {
            let mut slot = lock(&self.connection);
            let Some(jobs) = self.take() else {
                return;
            };
            if let Err(jobs) = self.batch(&mut slot, jobs, self.options.write_timeout) {
                // Only a batch that may not wait gives way.
                let failure = BatchFailure {
                    unavailable: true,
                    reason: "the database is locked".to_owned(),
                };
                for job in jobs {
                    job.fail(failure.error());
                }
            }
        }
    }

    /// One transaction for the writes, begun `IMMEDIATE` (it never fails
    /// half-way on a lock upgrade) after waiting for the write lock up to
    /// `wait`. `Err` gives the writes back when the lock was taken and
    /// `wait` is zero; every other outcome is answered to each write.
    fn batch(
        &self,
        slot: &mut MutexGuard<'_, Option<Connection>>,
        jobs: Vec<Box<dyn Job>>,
        wait: Duration,
    ) -> Result<(), Vec<Box<dyn Job>>> {
        let fail_all = |jobs: Vec<Box<dyn Job>>, error: &StoreError| {
            let failure = BatchFailure::from(error);
            for job in jobs {
                job.fail(failure.error());
            }
        };
        if slot.is_none() {
            match open_connection(&self.options, Role::Writer) {
                Ok(connection) => **slot = Some(connection),
                Err(error) => {
                    fail_all(jobs, &error);
                    return Ok(());
                }
            }
        }
        let Some(connection) = slot.as_mut() else {
            return Ok(());
        };
        let begun = connection
            .busy_timeout(wait)
            .and_then(|()| step(connection, "BEGIN IMMEDIATE"));
        // Inside the transaction nothing waits for a lock; reads in place
        // on this connection keep their short wait.
        let restored = connection.busy_timeout(read_busy_timeout(&self.options));
        match begun {
            Err(error) if wait.is_zero() && is_busy(&error) => {
                if restored.is_err() {
                    **slot = None;
                }
                return Err(jobs);
            }
            Err(error) => {
                fail_all(jobs, &map_error(error));
                end_transaction(slot);
                return Ok(());
            }
            Ok(()) => {}
        }
        let outcome = run_jobs(connection, jobs);
        end_transaction(slot);
        if restored.is_err() {
            **slot = None;
        }
        match outcome {
            Ok(ran) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                ran.into_iter().for_each(|ran| ran.committed());
            }
            Err((ran, error)) => {
                let failure = BatchFailure::from(&error);
                ran.into_iter().for_each(|ran| ran.fail(failure.error()));
            }
        }
        Ok(())
    }

    /// A passive checkpoint on the writer connection, holding it.
    fn checkpoint(&self) -> Result<(), StoreError> {
        let slot = lock(&self.connection);
        match slot.as_ref() {
            Some(connection) => connection
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(map_error),
            None => Ok(()),
        }
    }
}

/// Runs the writes in the open transaction and commits it. A lone write
/// runs as the transaction itself (rolled back when it fails); writes
/// together each run in a savepoint. `Err` when the transaction as a
/// whole failed: nothing of it was written.
fn run_jobs(connection: &Connection, jobs: Vec<Box<dyn Job>>) -> Result<RanWrites, (RanWrites, StoreError)> {
    let mut ran = Vec::with_capacity(jobs.len());
    if jobs.len() == 1 {
        for job in jobs {
            ran.push(job.run(connection));
        }
        let end = if ran.iter().all(|ran| ran.succeeded()) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        return match step(connection, end) {
            Ok(()) => Ok(ran),
            Err(error) => Err((ran, map_error(error))),
        };
    }
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        if let Err(error) = execute(connection, "SAVEPOINT write", []) {
            jobs.for_each(|job| job.fail(BatchFailure::from(&error).error()));
            return Err((ran, error));
        }
        let done = job.run(connection);
        let end = if done.succeeded() {
            execute(connection, "RELEASE write", [])
        } else {
            execute(connection, "ROLLBACK TO write", [])
                .and_then(|_| execute(connection, "RELEASE write", []))
        };
        ran.push(done);
        if let Err(error) = end {
            jobs.for_each(|job| job.fail(BatchFailure::from(&error).error()));
            return Err((ran, error));
        }
        if connection.is_autocommit() {
            // SQLite ended the transaction by itself (a full disk, an I/O
            // error): what ran before is gone too.
            let error = StoreError::Unavailable("the transaction was rolled back by the database".into());
            jobs.for_each(|job| job.fail(BatchFailure::from(&error).error()));
            return Err((ran, error));
        }
    }
    match step(connection, "COMMIT") {
        Ok(()) => Ok(ran),
        Err(error) => Err((ran, map_error(error))),
    }
}

/// Copies the WAL back into the database every `CHECKPOINT_INTERVAL`, in
/// a blocking thread, for as long as the writer exists. It runs on the
/// writer's own connection, holding it: no write of the hot path lands
/// meanwhile, so the checkpoint can copy every frame, and the next write
/// starts the WAL over from its beginning. (A checkpoint beside a busy
/// writer never catches up with it, and the WAL would grow without end.)
/// Passive: it never waits for, or blocks, readers or the sqlx pool.
fn spawn_checkpoints(writer: Weak<Writer>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            let Some(writer) = writer.upgrade() else {
                return;
            };
            let checkpoint = tokio::task::spawn_blocking(move || writer.checkpoint()).await;
            if let Ok(Err(error)) = checkpoint {
                tracing::warn!(%error, "the WAL checkpoint failed; retrying");
            }
        }
    });
}

/// A connection whose transaction did not end (it is rolled back on drop,
/// but a failed rollback leaves it open) is rolled back, or replaced: no
/// later write may land in it.
fn end_transaction(slot: &mut MutexGuard<'_, Option<Connection>>) {
    if let Some(connection) = slot.as_mut()
        && !connection.is_autocommit()
    {
        let _ = connection.execute_batch("ROLLBACK");
        if !connection.is_autocommit() {
            **slot = None;
        }
    }
}

fn is_busy(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        error.downcast_ref::<rusqlite::Error>(),
        Some(rusqlite::Error::SqliteFailure(failure, _))
            if matches!(failure.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
}

/// How long a read in place may wait for a lock.
fn read_busy_timeout(options: &DirectOptions) -> Duration {
    READ_BUSY_TIMEOUT.min(options.write_timeout)
}

fn open_connection(options: &DirectOptions, role: Role) -> Result<Connection, StoreError> {
    let mut flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if options.in_memory {
        flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let connection = Connection::open_with_flags(&options.path, flags).map_err(map_error)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The writer connection serves reads in place too: it waits long only
    // while a blocking thread's batch holds it (`Writer::run_blocking`).
    connection
        .busy_timeout(read_busy_timeout(options))
        .map_err(map_error)?;
    let synchronous = match options.synchronous {
        SqliteSynchronous::Normal => "NORMAL",
        SqliteSynchronous::Full => "FULL",
    };
    let cache = options.cache_kib;
    let pragmas = match role {
        Role::Reader => {
            format!("PRAGMA foreign_keys = ON; PRAGMA query_only = ON; PRAGMA cache_size = -{cache};")
        }
        Role::Writer => format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; PRAGMA cache_size = -{cache};"
        ),
    };
    connection.execute_batch(&pragmas).map_err(map_error)?;
    Ok(connection)
}

/// Maps SQLite's errors as `map_sqlx` does: constraint violations, and the
/// failures of an unwell database (busy, locked, out of memory, read-only,
/// I/O, full, cannot open, locking protocol) as unavailable.
pub(super) fn map_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error {
        match failure.code {
            ErrorCode::ConstraintViolation => match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    return StoreError::Conflict;
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::MissingReference,
                _ => {}
            },
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::OutOfMemory
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::FileLockingProtocolFailed => return StoreError::Unavailable(Box::new(error)),
            _ => {}
        }
    }
    StoreError::Backend(Box::new(error))
}

fn to_json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|error| StoreError::Backend(Box::new(error)))
}

/// The first row of a cached statement, mapped.
fn query_one<T>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(map_error)?;
    let mut rows = statement.query(params).map_err(map_error)?;
    match rows.next().map_err(map_error)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// A statement without parameters or rows (`BEGIN`, `COMMIT`, …), prepared
/// once per connection: these run several times per request.
fn step(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Reads in one read transaction: one snapshot for all of them. It ends
/// whatever the reads gave (a read transaction left open would hold its
/// snapshot, and the WAL, for good).
fn in_snapshot<T>(
    connection: &Connection,
    read: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    step(connection, "BEGIN").map_err(map_error)?;
    let result = read();
    let ended = step(connection, "COMMIT");
    if ended.is_err() && !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    let value = result?;
    ended.map_err(map_error)?;
    Ok(value)
}

fn execute(connection: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    connection
        .prepare_cached(sql)
        .map_err(map_error)?
        .execute(params)
        .map_err(map_error)
}

fn subject_in(
    connection: &Connection,
    user_id: &str,
    organization_id: &str,
) -> Result<Option<SubjectRecord>, StoreError> {
    query_one(connection, hot::FIND_SUBJECT, [user_id, organization_id], |row| {
        subject(row)
    })
}

fn insert_refresh_token(connection: &Connection, r: &RefreshTokenRecord) -> Result<(), StoreError> {
    execute(
        connection,
        hot::INSERT_REFRESH_TOKEN,
        params![
            &r.token_digest.0[..],
            r.grant_id,
            r.client_id,
            to_json_list(&r.scopes)?,
            r.created_at,
            r.expires_at,
            r.used_at
        ],
    )?;
    Ok(())
}

impl HotPath for Direct {
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_CLIENT, [client_id], |row| client(row)))
    }

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_USER, [id], |row| user(row)))
    }

    async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_ORGANIZATION, [id], |row| organization(row)))
    }

    async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
        self.read(|c| {
            let mut statement = c.prepare_cached(hot::LIST_MEMBERSHIPS).map_err(map_error)?;
            let mut rows = statement.query([user_id]).map_err(map_error)?;
            let mut memberships = Vec::new();
            while let Some(row) = rows.next().map_err(map_error)? {
                memberships.push(membership(row)?);
            }
            Ok(memberships)
        })
    }

    async fn find_subject(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<SubjectRecord>, StoreError> {
        self.read(|c| subject_in(c, user_id, organization_id))
    }

    async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_SESSION, [&id_digest.0[..]], |row| session(row)))
    }

    async fn find_consent(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.read(|c| {
            query_one(
                c,
                hot::FIND_CONSENT,
                [user_id, organization_id, client_id],
                |row| json_list(row, "scopes"),
            )
        })
    }

    async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let code = code.clone();
        self.write(move |c| {
            execute(
                c,
                hot::INSERT_AUTHORIZATION_CODE,
                params![
                    &code.code_digest.0[..],
                    code.client_id,
                    code.user_id,
                    code.organization_id,
                    code.redirect_uri,
                    code.redirect_uri_given,
                    to_json_list(&code.scopes)?,
                    code.code_challenge,
                    code.code_challenge_method,
                    code.nonce,
                    code.auth_time,
                    code.created_at,
                    code.expires_at,
                    code.consumed_at,
                    code.grant_id,
                    to_json_list(&code.resources)?,
                    to_json_list(&code.amr)?
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn find_authorization_code(
        &self,
        code_digest: &TokenDigest,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        self.read(|c| {
            query_one(c, hot::FIND_AUTHORIZATION_CODE, [&code_digest.0[..]], |row| {
                authorization_code(row)
            })
        })
    }

    async fn exchange_authorization_code(
        &self,
        code_digest: &TokenDigest,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: i64,
    ) -> Result<CodeExchange, StoreError> {
        let code_digest = *code_digest;
        let g = grant.clone();
        let refresh = refresh.cloned();
        self.write(move |c| {
            let consumed = execute(
                c,
                hot::CONSUME_AUTHORIZATION_CODE,
                params![now, g.id, &code_digest.0[..]],
            )?;
            if consumed == 0 {
                let grant_id: Option<String> = c
                    .prepare_cached(hot::CODE_GRANT_ID)
                    .map_err(map_error)?
                    .query_row([&code_digest.0[..]], |row| row.get(0))
                    .optional()
                    .map_err(map_error)?
                    .flatten();
                return Ok(CodeExchange::AlreadyConsumed { grant_id });
            }
            execute(
                c,
                hot::INSERT_GRANT,
                params![
                    g.id,
                    g.client_id,
                    g.user_id,
                    g.organization_id,
                    to_json_list(&g.scopes)?,
                    g.auth_time,
                    g.created_at,
                    g.revoked_at,
                    to_json_list(&g.resources)?,
                    to_json_list(&g.amr)?
                ],
            )?;
            if let Some(refresh) = &refresh {
                insert_refresh_token(c, refresh)?;
            }
            Ok(CodeExchange::Exchanged)
        })
        .await
    }

    async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_GRANT, [id], |row| grant(row)))
    }

    async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            query_one(c, hot::ACCESS_TOKEN_IS_LIVE, params![grant_id, true, jti], |_| {
                Ok(())
            })
            .map(|row| row.is_some())
        })
    }

    async fn client_credentials_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            query_one(
                c,
                hot::CLIENT_CREDENTIALS_TOKEN_IS_LIVE,
                params![grant_id, true, jti],
                |_| Ok(()),
            )
            .map(|row| row.is_some())
        })
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let token = token.clone();
        self.write(move |c| insert_refresh_token(c, &token)).await
    }

    async fn find_refresh_token(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.read(|c| {
            query_one(c, hot::FIND_REFRESH_TOKEN, [&token_digest.0[..]], |row| {
                refresh_token(row)
            })
        })
    }

    /// One read transaction on one connection: one snapshot, one lock.
    async fn find_refresh_context(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshContext>, StoreError> {
        self.read(|c| {
            in_snapshot(c, || {
                let Some(token) = query_one(c, hot::FIND_REFRESH_TOKEN, [&token_digest.0[..]], |row| {
                    refresh_token(row)
                })?
                else {
                    return Ok(None);
                };
                let grant = query_one(c, hot::FIND_GRANT, [&token.grant_id], |row| grant(row))?;
                let subject = match &grant {
                    Some(grant) => subject_in(c, &grant.user_id, &grant.organization_id)?,
                    None => None,
                };
                Ok(Some(RefreshContext {
                    token,
                    grant,
                    subject,
                }))
            })
        })
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let old = *old;
        let successor = successor.clone();
        self.write(move |c| {
            if execute(c, hot::USE_REFRESH_TOKEN, params![now, &old.0[..]])? == 0 {
                return Ok(false);
            }
            insert_refresh_token(c, &successor)?;
            Ok(true)
        })
        .await
    }

    async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read(|c| query_one(c, hot::FIND_API_KEY, [&digest.0[..]], |row| api_key(row)))
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            execute(c, hot::TOUCH_API_KEY, params![now, id, now - 60])?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positional binding relies on SQLite numbering `$1`, `$2`, … in order
    /// of first appearance: every shared statement must name them so.
    #[test]
    fn shared_statements_number_their_parameters_in_order() {
        let connection = Connection::open_in_memory().unwrap();
        for (_, _, sql) in super::super::migrations::SQLITE {
            connection.execute_batch(sql).unwrap();
        }
        for sql in [
            hot::FIND_CLIENT,
            hot::FIND_USER,
            hot::FIND_ORGANIZATION,
            hot::LIST_MEMBERSHIPS,
            hot::FIND_SUBJECT,
            hot::FIND_SESSION,
            hot::FIND_CONSENT,
            hot::INSERT_AUTHORIZATION_CODE,
            hot::FIND_AUTHORIZATION_CODE,
            hot::CONSUME_AUTHORIZATION_CODE,
            hot::CODE_GRANT_ID,
            hot::INSERT_GRANT,
            hot::FIND_GRANT,
            hot::ACCESS_TOKEN_IS_LIVE,
            hot::INSERT_REFRESH_TOKEN,
            hot::FIND_REFRESH_TOKEN,
            hot::USE_REFRESH_TOKEN,
            hot::FIND_API_KEY,
            hot::TOUCH_API_KEY,
        ] {
            let statement = connection.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            for index in 1..=statement.parameter_count() {
                assert_eq!(
                    statement.parameter_name(index),
                    Some(format!("${index}").as_str()),
                    "{sql}"
                );
            }
        }
    }

    /// A read that fails inside a snapshot still ends it: a read
    /// transaction left open would pin its snapshot and the WAL.
    #[test]
    fn a_failed_read_ends_its_snapshot() {
        let connection = Connection::open_in_memory().unwrap();
        let failed: Result<(), StoreError> = in_snapshot(&connection, || {
            assert!(!connection.is_autocommit(), "inside the snapshot");
            Err(StoreError::Conflict)
        });
        assert!(matches!(failed, Err(StoreError::Conflict)));
        assert!(connection.is_autocommit());
        assert_eq!(in_snapshot(&connection, || Ok(7)).unwrap(), 7);
        assert!(connection.is_autocommit());
    }

    /// A migrated database with organization `o1` and its API key `k1`,
    /// and a connection to it of its own.
    fn migrated(path: &std::path::Path) -> Connection {
        let connection = Connection::open(path).unwrap();
        connection.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        for (_, _, sql) in super::super::migrations::SQLITE {
            connection.execute_batch(sql).unwrap();
        }
        connection
            .execute_batch(
                "INSERT INTO organizations (id, name, created_at) VALUES ('o1', 'Acme', 0); \
                 INSERT INTO api_keys (id, organization_id, name, scopes, key_digest, created_at) \
                 VALUES ('k1', 'o1', 'key', '[]', x'00', 0);",
            )
            .unwrap();
        connection
    }

    fn options(path: &std::path::Path, write_timeout: Duration) -> DirectOptions {
        DirectOptions {
            path: path.to_path_buf(),
            in_memory: false,
            synchronous: SqliteSynchronous::Normal,
            cache_kib: 512,
            write_timeout,
            readers: 2,
        }
    }

    /// Another connection holds SQLite's write lock: the write does not
    /// fail at once (the in-place attempt gives way to a blocking thread),
    /// lands when the lock is released, and reads go on meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_a_lock_held_elsewhere_then_lands() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let other = migrated(&path);
        let direct = Arc::new(Direct::open(options(&path, Duration::from_secs(5))).unwrap());
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let writing = tokio::spawn({
            let direct = Arc::clone(&direct);
            async move { direct.touch_api_key("k1", 1_000).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writing.is_finished(), "the write waits for the lock");
        assert_eq!(
            direct.find_organization("o1").await.unwrap().unwrap().name,
            "Acme"
        );
        other.execute_batch("COMMIT").unwrap();
        writing.await.unwrap().unwrap();
        let last_used: Option<i64> = other
            .query_row("SELECT last_used_at FROM api_keys WHERE id = 'k1'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(last_used, Some(1_000));
    }

    /// A lock held past the statement timeout: unavailable, not a hang,
    /// and the writer works again afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_held_past_the_timeout_is_unavailable_then_writes_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let other = migrated(&path);
        let direct = Direct::open(options(&path, Duration::from_millis(200))).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let refused = direct.touch_api_key("k1", 1_000).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
        other.execute_batch("ROLLBACK").unwrap();
        direct.touch_api_key("k1", 2_000).await.unwrap();
        let last_used: Option<i64> = other
            .query_row("SELECT last_used_at FROM api_keys WHERE id = 'k1'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(last_used, Some(2_000));
    }

    /// Writes that wait for the writer together commit together, and the
    /// one that fails (a duplicate key) undoes only itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(
        clippy::await_holding_lock,
        reason = "the test holds the writer connection so that the writes queue; they wait in blocking threads"
    )]
    async fn writes_that_wait_together_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let other = migrated(&path);
        let direct = Arc::new(Direct::open(options(&path, Duration::from_secs(5))).unwrap());
        let held = lock(&direct.writer.connection);
        let commits = direct.writer.commits.load(Ordering::Relaxed);
        let writes: Vec<_> = (0..20)
            .map(|n| {
                let direct = Arc::clone(&direct);
                // Organization 7 twice: the second fails on the primary key.
                let id = format!("org-{}", if n == 19 { 7 } else { n });
                tokio::spawn(async move {
                    direct
                        .write(move |c| {
                            execute(
                                c,
                                "INSERT INTO organizations (id, name, created_at) VALUES ($1, 'x', 0)",
                                [&id],
                            )
                        })
                        .await
                })
            })
            .collect();
        while lock(&direct.writer.queue).waiting.len() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        let mut conflicts = 0;
        for write in writes {
            match write.await.unwrap() {
                Ok(1) => {}
                Err(StoreError::Conflict) => conflicts += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(conflicts, 1);
        let stored: i64 = other
            .query_row(
                "SELECT count(*) FROM organizations WHERE id LIKE 'org-%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(stored, 19);
        assert_eq!(
            direct.writer.commits.load(Ordering::Relaxed) - commits,
            1,
            "one transaction for the twenty writes"
        );
    }

    /// Under writes that never pause, the WAL still starts over: the
    /// checkpoint holds the writer, so it copies every frame, and the file
    /// stays a fraction of what was written through it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_continuous_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        let _other = migrated(&path);
        let direct = Direct::open(options(&path, Duration::from_secs(5))).unwrap();
        let started = std::time::Instant::now();
        let mut writes: i64 = 0;
        while started.elapsed() < CHECKPOINT_INTERVAL * 8 {
            // Each write changes the key's row: one page, one WAL frame.
            direct.touch_api_key("k1", 1_000 + 61 * writes).await.unwrap();
            assert!(direct.find_organization("o1").await.unwrap().is_some());
            writes += 1;
        }
        let written = u64::try_from(writes).unwrap() * 4_096;
        let wal = std::fs::metadata(dir.path().join("direct.db-wal")).unwrap().len();
        assert!(
            wal < written / 3,
            "{writes} writes, {written} bytes through the WAL, and it holds {wal}"
        );
    }
}
