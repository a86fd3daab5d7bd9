//! SIGINT (Ctrl-C) and SIGTERM.
//!
//! A fit stops after its current iteration and writes the best model so far
//! (exit 130 for SIGINT, 143 for SIGTERM); a second signal aborts. Every other
//! verb stops at once. Either way the temporary files of outputs being
//! written are removed before the process exits, so nothing half-written is
//! left behind.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Set by the first signal during a fit.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set on the processes of a spread fit other than process 0, which alone
/// tells the user what a signal does.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Prints nothing when a signal arrives (the other processes of `gmm-mpi`).
pub(crate) fn quiet() {
    QUIET.store(true, Ordering::SeqCst);
}

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// How a verb answers SIGINT and SIGTERM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnSignal {
    /// Stop after the current iteration and write what exists.
    Finish,
    /// Remove the temporary outputs and exit.
    Exit,
}

/// The current [`OnSignal`] (0: finish, 1: exit).
static MODE: AtomicU8 = AtomicU8::new(1);

/// Changes how the next signal is answered: a fit finishes its iteration
/// while it runs, and exits (nothing written) once it draws and writes its
/// outputs, which are all put in place together at the end.
pub(crate) fn set_mode(mode: OnSignal) {
    MODE.store(
        match mode {
            OnSignal::Finish => 0,
            OnSignal::Exit => 1,
        },
        Ordering::SeqCst,
    );
}

/// Installs the handlers (once per process; a failure leaves the defaults)
/// answering signals as `mode` says (see [`set_mode`]).
pub(crate) fn install(mode: OnSignal) {
    set_mode(mode);
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                let first = SIGNAL
                    .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                let exit = MODE.load(Ordering::SeqCst) == 1;
                if exit || !first || INTERRUPTED.swap(true, Ordering::SeqCst) {
                    gmm_io::remove_temporary_files();
                    if !QUIET.load(Ordering::SeqCst) {
                        note!(
                            "\n{}: stopped; nothing was written",
                            if sig == SIGTERM {
                                "terminated"
                            } else {
                                "interrupted"
                            }
                        );
                    }
                    std::process::exit(128 + sig);
                }
                if QUIET.load(Ordering::SeqCst) {
                    continue;
                }
                note!(
                    "\n{}: stopping after the current iteration and writing the model \
                     (Ctrl-C again to abort)",
                    if sig == SIGTERM {
                        "terminate"
                    } else {
                        "interrupt"
                    }
                );
            }
        });
    });
}

/// The exit code of a command stopped by a signal: 128 + its number.
pub(crate) fn exit_code() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 130,
        s => (128 + s) as u8,
    }
}
