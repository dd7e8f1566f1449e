//! The `posterlab` binary: parse the command line, dispatch, print the error
//! chain and set the exit code. Everything else lives in the library.

mod cli;

/// Training allocates and frees hundreds of MB of activations and gradients
/// per step. glibc returns large blocks to the kernel, so every step faulted
/// them in again (15 % of training time at 64 px); mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "error: {}",
                posterlab::text::terminal_safe(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `posterlab run --dry-run dir/ | head` would panic
/// on the closed pipe; a Unix command line tool just stops there.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
