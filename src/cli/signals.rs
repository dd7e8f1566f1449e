//! Ctrl-C, SIGTERM, SIGHUP and SIGUSR1 during `run`: the first asks training
//! to stop after the current batch (the run is marked interrupted and
//! resumes later); a second one ends the process at once, as usual. SIGHUP
//! is what an ssh session that drops sends its jobs: an overnight sweep
//! started over ssh is then marked, not left `running`. SIGTERM is what
//! Slurm's scancel, requeue and preemption send; SIGUSR1 what it sends
//! before a time limit when a job asks for it (`--signal=USR1@N`).

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; the next one gets the default
    // action (terminate).
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}

pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores an atomic and resets the disposition.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGHUP, handler);
        libc::signal(libc::SIGUSR1, handler);
    }
}

pub fn stop_flag() -> &'static AtomicBool {
    &STOP
}
