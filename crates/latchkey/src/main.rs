//! The `latchkey` binary: everything happens in [`latchkey::cli`].
//!
//! Memory comes from jemalloc rather than the C library's allocator: glibc
//! keeps what its per-thread arenas free, so the server's resident memory
//! only grew under load (argon2's 12 MiB blocks, given back when the
//! password workers go idle, were never returned to the system), while
//! jemalloc returns large blocks at once and small freed pages after a
//! short decay. docs/PERFORMANCE.md has the measurements.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    latchkey::cli::main()
}
