//! Syscall user dispatch on x86-64 Linux: the `prctl` that arms a thread and the
//! `SIGSYS` handler that lets a caught call through.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::caught;

// From <linux/prctl.h> and <asm-generic/siginfo.h>; not every libc release has them.
const PR_SET_SYSCALL_USER_DISPATCH: libc::c_int = 59;
const PR_SYS_DISPATCH_ON: libc::c_ulong = 1;
/// `si_code` of a `SIGSYS` raised by syscall user dispatch (a seccomp one is 1).
const SYS_USER_DISPATCH: libc::c_int = 2;
/// `sa_flags` bit of an action with a return trampoline of its own (<asm/signal.h>).
const SA_RESTORER: libc::c_int = 0x0400_0000;
/// `syscall`, `sysenter` and `int 0x80` are each two bytes long.
const SYSCALL_INSN_LEN: i64 = 2;
/// Bytes of the C library's signal return trampoline (`__restore_rt`: `mov $15, %rax;
/// syscall`, 9 bytes) that armed threads may always make calls from: another signal
/// handler that runs inside a section returns through it, and that is no call of ours.
const RESTORER_LEN: libc::c_ulong = 16;

/// Where the C library's signal return trampoline is (0: unknown), read back from the
/// action installed for SIGSYS.
static RESTORER: AtomicUsize = AtomicUsize::new(0);

pub(super) fn install() -> Result<(), String> {
    // Ask the kernel on a throwaway thread first: if it has no syscall user dispatch,
    // say so now rather than leave every audio thread to find out.
    let probe = std::thread::spawn(|| {
        let selector = 0u8;
        // SAFETY: PR_SET_SYSCALL_USER_DISPATCH with a selector that outlives the call
        // below that turns dispatch off again; no section blocks in between.
        let on = unsafe {
            libc::prctl(
                PR_SET_SYSCALL_USER_DISPATCH,
                PR_SYS_DISPATCH_ON,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                &selector as *const u8,
            )
        };
        if on != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: turning it off takes no pointer (every argument passed at full width:
        // prctl is variadic).
        let off = unsafe {
            libc::prctl(
                PR_SET_SYSCALL_USER_DISPATCH,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if off != 0 {
            // Dispatch would stay on for this thread's last calls, reading a selector
            // on its stack: end it here, before anything else is called.
            std::process::abort();
        }
        Ok(())
    });
    match probe.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("no syscall user dispatch in this kernel: {e}")),
        Err(_) => return Err("the syscall user dispatch probe panicked".into()),
    }
    // SAFETY: a zeroed `sigaction` is a valid starting point; the handler has the
    // three-argument form that SA_SIGINFO promises, and touches only what a signal
    // handler may (see `on_sigsys`).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigsys as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        // Every signal held off while the handler runs: one stacked on top would run
        // with the selector still blocking, and its return (a system call) would raise
        // SIGSYS while SIGSYS is blocked, which the kernel answers by killing us.
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) != 0 {
            return Err(format!(
                "SIGSYS handler: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut installed: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGSYS, std::ptr::null(), &mut installed) == 0
            && installed.sa_flags & SA_RESTORER != 0
        {
            RESTORER.store(
                installed.sa_restorer.map_or(0, |f| f as usize),
                Ordering::Relaxed,
            );
        }
    }
    Ok(())
}

/// Arms the calling thread: from now on the kernel reads `selector` at each of its
/// system calls. `selector` must stay valid (and be 0 or 1) for the thread's life.
/// Declines (false) a thread that blocks SIGSYS: its first caught call would kill the
/// process.
pub(super) fn arm(selector: *mut u8) -> bool {
    // SAFETY: reading this thread's signal mask into a zeroed set.
    let sigsys_blocked = unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) != 0
            || libc::sigismember(&mask, libc::SIGSYS) != 0
    };
    if sigsys_blocked {
        return false;
    }
    let restorer = RESTORER.load(Ordering::Relaxed) as libc::c_ulong;
    let len = if restorer == 0 { 0 } else { RESTORER_LEN };
    // SAFETY: the caller passes its thread's static-TLS selector, valid until the thread
    // is gone, and only ever stores 0 (allow) or 1 (block) into it. The allowed range
    // is the C library's signal trampoline, code that lives as long as the process.
    unsafe {
        libc::prctl(
            PR_SET_SYSCALL_USER_DISPATCH,
            PR_SYS_DISPATCH_ON,
            restorer,
            len,
            selector,
        ) == 0
    }
}

extern "C" fn on_sigsys(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo and ucontext.
    unsafe {
        if (*info).si_code != SYS_USER_DISPATCH {
            // Not ours (a seccomp filter's trap): what would have happened without us.
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
            return;
        }
        let context = &mut *(context as *mut libc::ucontext_t);
        let regs = &mut context.uc_mcontext.gregs;
        // The kernel rolled the call back: RAX holds its number again and RIP points
        // just past the instruction. Open the selector, then step back onto the
        // instruction, so that after this handler returns the call is made as written.
        let nr = regs[libc::REG_RAX as usize];
        // A signal handler's return, where the trampoline's address was not known: the
        // handler was not ours to count.
        caught(nr, nr != libc::SYS_rt_sigreturn);
        regs[libc::REG_RIP as usize] -= SYSCALL_INSN_LEN;
    }
}

pub(super) fn name(nr: i64) -> Option<&'static str> {
    Some(match nr {
        libc::SYS_read => "read",
        libc::SYS_write => "write",
        libc::SYS_mmap => "mmap",
        libc::SYS_munmap => "munmap",
        libc::SYS_brk => "brk",
        libc::SYS_madvise => "madvise",
        libc::SYS_ioctl => "ioctl",
        libc::SYS_sched_yield => "sched_yield",
        libc::SYS_nanosleep => "nanosleep",
        libc::SYS_clock_nanosleep => "clock_nanosleep",
        libc::SYS_futex => "futex",
        libc::SYS_clock_gettime => "clock_gettime",
        libc::SYS_gettimeofday => "gettimeofday",
        libc::SYS_poll => "poll",
        libc::SYS_ppoll => "ppoll",
        libc::SYS_sendto => "sendto",
        libc::SYS_recvfrom => "recvfrom",
        _ => return None,
    })
}
