//! Setting up our own audio thread (the null backend's clock; JACK's and cpal's threads
//! are set up by the server and by cpal): real-time scheduling where the system permits
//! it, pinning to one CPU, and locking the process's memory so the audio path never
//! waits for a page to come back from swap. Each call says what it did or why it could
//! not, so `troubadour run` can tell the user.
//!
//! These are system calls: they run once, before the audio loop starts, never in it.

/// CPUs a `cpu_set_t` can name: `--cpu` must be below this.
pub const MAX_CPUS: usize = libc::CPU_SETSIZE as usize;

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
        // SAFETY: sysconf has no preconditions.
        let configured = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.max(1) as usize;
        if cpu >= MAX_CPUS {
            lines.push(format!(
                "audio thread: not pinned: CPU {cpu} is past the highest CPU number a CPU set holds ({})",
                MAX_CPUS - 1
            ));
        } else if cpu >= configured {
            lines.push(format!(
                "audio thread: not pinned: CPU {cpu} does not exist ({configured} configured)"
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

/// Whether to lock the process's memory into RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryLock {
    /// Where the limit allows locking everything (no limit, or the privilege to exceed
    /// it): a limit that is too small would make later allocations fail, which is far
    /// worse than a page that may be swapped out.
    #[default]
    Auto,
    /// Always try (`--mlock`).
    On,
    /// Never (`--no-mlock`).
    Off,
}

/// Locks every page the process has and will have into memory (`mlockall`), as `mode`
/// says. Returns a line saying what was done and why.
pub fn lock_memory(mode: MemoryLock) -> String {
    let limit = memlock_limit();
    let privileged = may_exceed_memlock_limit();
    match mode {
        MemoryLock::Off => return "memory: not locked (--no-mlock)".into(),
        MemoryLock::Auto if !privileged && limit.is_some() => {
            return format!(
                "memory: not locked: the limit for locked memory is {} (`ulimit -l`), too small to lock the whole process safely; raise it to unlimited (limits.d, `memlock`) or pass --mlock to try anyway",
                limit.map_or_else(|| "unknown".into(), |b| format!("{} kB", b / 1024))
            );
        }
        MemoryLock::Auto | MemoryLock::On => {}
    }
    // On fault: a page is locked once it is touched, so locking does not make every
    // thread's whole stack and every mapped library resident; the buffers the audio
    // thread uses are touched when they are built (see `troubadour_rt::prefault`).
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    let mut rc =
        unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // A kernel older than 4.4 knows no MCL_ONFAULT.
        // SAFETY: as above.
        rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    }
    if rc == 0 {
        "memory: locked (mlockall): no page of the process that has been touched can be swapped out"
            .into()
    } else {
        format!(
            "memory: not locked ({}); raise `ulimit -l` or grant CAP_IPC_LOCK",
            std::io::Error::last_os_error()
        )
    }
}

/// The soft limit on locked memory in bytes, `None` when unlimited (a limit that
/// cannot be read counts as none at all: 0).
fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if rc != 0 {
        Some(0)
    } else if limit.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(limit.rlim_cur)
    }
}

/// Whether the process holds CAP_IPC_LOCK (bit 14 of its effective capabilities), which
/// lifts the limit on locked memory. Root in a container may lack it.
fn may_exceed_memlock_limit() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Asks the kernel to wake the calling thread within `slack` of the timeouts it sleeps
/// for (50 µs by default for a normal thread): for a control thread that locks its
/// sleeps to the audio period. Returns whether the kernel agreed.
pub fn set_timer_slack(slack: std::time::Duration) -> bool {
    let ns = slack.as_nanos().clamp(1, u128::from(u32::MAX)) as libc::c_ulong;
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0) == 0 }
}
