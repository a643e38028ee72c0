//! The `latchkey` binary: everything happens in [`latchkey::cli`].

fn main() -> std::process::ExitCode {
    latchkey::cli::main()
}
