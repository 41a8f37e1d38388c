//! Ctrl-C and SIGTERM for the commands that write files (`render`, `resample`): the
//! first signal raises a flag that their loops check between pieces, so they stop,
//! drop their unfinished files (which removes them) and exit with 128 + the signal's
//! number; a second signal ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The signal received, 0 for none.
static RAISED: LazyLock<Arc<AtomicUsize>> = LazyLock::new(|| Arc::new(AtomicUsize::new(0)));

/// Starts catching SIGINT and SIGTERM.
pub fn install() -> Result<(), String> {
    for signal in [SIGINT, SIGTERM] {
        let flag = Arc::new(AtomicBool::new(false));
        // Registered first, so it sees the flag as it was before this signal: only a
        // second signal ends the process here.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&flag))
            .and_then(|_| signal_hook::flag::register(signal, flag))
            .and_then(|_| {
                signal_hook::flag::register_usize(signal, Arc::clone(&RAISED), signal as usize)
            })
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    Ok(())
}

/// The signal that asked us to stop, if one did.
pub fn raised() -> Option<i32> {
    match RAISED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s as i32),
    }
}

/// An error once a signal asked us to stop.
pub fn check() -> Result<(), Interrupted> {
    raised().map_or(Ok(()), |signal| Err(Interrupted { signal }))
}

/// A run stopped by a signal.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted {
    /// Which signal.
    pub signal: i32,
}

impl Interrupted {
    /// Says what happened and gives the shell's exit code for it.
    pub fn exit(self) -> std::process::ExitCode {
        let name = if self.signal == SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        eprintln!("troubadour: interrupted by {name}: the unfinished files were removed");
        std::process::ExitCode::from((128 + self.signal) as u8)
    }
}
