//! Setting up our own audio thread (the null backend's clock; JACK's and cpal's threads
//! are set up by the server and by cpal): real-time scheduling where the system permits
//! it, pinning to one CPU, and locking the process's memory so the audio path never
//! waits for a page to come back from swap. Each call says what it did or why it could
//! not, so `troubadour run` can tell the user.
//!
//! These are system calls: they run once, before the audio loop starts, never in it.

/// What to ask for on the audio thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadSetup {
    /// SCHED_FIFO at this priority (1–99).
    pub realtime_priority: Option<i32>,
    /// Pin to this CPU.
    pub cpu: Option<usize>,
}

/// The real-time priority `run` asks for: below JACK's usual 70–80 for its own
/// threads, above anything ordinary.
pub const DEFAULT_PRIORITY: i32 = 60;

/// Applies `setup` to the calling thread. Returns one line per request, saying what
/// happened (granted, or denied and why).
pub fn apply(setup: &ThreadSetup) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(priority) = setup.realtime_priority {
        let param = libc::sched_param {
            sched_priority: priority,
        };
        // SAFETY: `pthread_self()` is the calling thread, always valid; `param` is a
        // valid, initialised sched_param that outlives the call.
        let rc =
            unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
        lines.push(if rc == 0 {
            format!("audio thread: real-time priority {priority} (SCHED_FIFO)")
        } else {
            format!(
                "audio thread: real-time priority denied ({}); running at normal priority (grant rtprio in /etc/security/limits.d, or run as a member of the audio group)",
                std::io::Error::from_raw_os_error(rc)
            )
        });
    }
    if let Some(cpu) = setup.cpu {
        // SAFETY: an all-zero cpu_set_t is the empty set (what CPU_ZERO produces).
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let online = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpu >= online.max(libc::CPU_SETSIZE as usize) {
            lines.push(format!(
                "audio thread: not pinned: CPU {cpu} does not exist ({online} online)"
            ));
        } else {
            // SAFETY: `cpu` < CPU_SETSIZE (checked), so CPU_SET stays inside `set`.
            unsafe { libc::CPU_SET(cpu, &mut set) };
            // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size
            // passed.
            let rc =
                unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
            lines.push(if rc == 0 {
                format!("audio thread: pinned to CPU {cpu}")
            } else {
                format!(
                    "audio thread: not pinned to CPU {cpu}: {}",
                    std::io::Error::last_os_error()
                )
            });
        }
    }
    lines
}

/// Locks every page the process has and will have into memory (`mlockall`). Returns
/// a line saying whether it worked.
pub fn lock_memory() -> String {
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc == 0 {
        "memory: locked (mlockall): no page of the process can be swapped out".into()
    } else {
        format!(
            "memory: not locked ({}); raise `ulimit -l` or grant CAP_IPC_LOCK",
            std::io::Error::last_os_error()
        )
    }
}
