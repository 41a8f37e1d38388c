//! Syscall user dispatch on x86-64 Linux: the `prctl` that arms a thread and the
//! `SIGSYS` handler that lets a caught call through.

use std::ffi::c_void;

use super::caught;

// From <linux/prctl.h> and <asm-generic/siginfo.h>; not every libc release has them.
const PR_SET_SYSCALL_USER_DISPATCH: libc::c_int = 59;
const PR_SYS_DISPATCH_ON: libc::c_ulong = 1;
/// `si_code` of a `SIGSYS` raised by syscall user dispatch (a seccomp one is 1).
const SYS_USER_DISPATCH: libc::c_int = 2;
/// `syscall`, `sysenter` and `int 0x80` are each two bytes long.
const SYSCALL_INSN_LEN: i64 = 2;

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
        // SAFETY: turning it off takes no pointer.
        unsafe { libc::prctl(PR_SET_SYSCALL_USER_DISPATCH, 0 as libc::c_ulong, 0, 0, 0) };
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
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) != 0 {
            return Err(format!(
                "SIGSYS handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Arms the calling thread: from now on the kernel reads `selector` at each of its
/// system calls. `selector` must stay valid (and be 0 or 1) for the thread's life.
pub(super) fn arm(selector: *mut u8) -> bool {
    // SAFETY: the caller passes its thread's static-TLS selector, valid until the thread
    // is gone, and only ever stores 0 (allow) or 1 (block) into it.
    unsafe {
        libc::prctl(
            PR_SET_SYSCALL_USER_DISPATCH,
            PR_SYS_DISPATCH_ON,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
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
        caught(regs[libc::REG_RAX as usize]);
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
