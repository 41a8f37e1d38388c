//! The stress test: the engine on the null backend under random control traffic at
//! 1 kHz, structural swaps included (`stress_jack` runs the same on a private JACK
//! server).
//!
//! ```text
//! cargo test --release --test stress -- --ignored --nocapture
//! TROUBADOUR_STRESS_SECS=86400 cargo test --release --test stress -- --ignored   # 24 h
//! ```
//!
//! It fails on any engine-caused late callback (processing that used more CPU time than
//! its period; wall-clock overruns, which include the thread being preempted or the
//! virtual machine being paused by its host, are printed), on resident memory growing by more than 1 MB after the warm-up, and on a
//! meter that disagrees with the signal: a -12 dBFS sine strip into its own bus, which
//! the traffic never touches, must read -12 dBFS at every look while everything around
//! it changes and graphs are swapped under it.

#[path = "../support/mod.rs"]
mod support;
mod traffic;

/// The allocator that counts allocations inside callbacks (as the binary's does), so the
/// backend's count of them means something here.
#[global_allocator]
static ALLOC: troubadour_rt::alloc_guard::GuardedAllocator =
    troubadour_rt::alloc_guard::GuardedAllocator;

use traffic::{resident_bytes, seconds, session, traffic};
use troubadour_engine::{EngineOptions, create};

#[test]
#[ignore = "long: cargo test --release --test stress -- --ignored (TROUBADOUR_STRESS_SECS)"]
fn null_backend_under_random_traffic_and_swaps() {
    // System calls in callbacks counted, as the binary counts them.
    troubadour_rt::syscall_guard::install().expect("syscall user dispatch here");
    let loaded = session();
    let (mut controller, engine) = create(&loaded, &EngineOptions::default()).unwrap();
    // The clock thread set up as `troubadour run` sets it up: real-time scheduling
    // where the system grants it (without it, a CI run here saw one preempted period in
    // 10 s at 2.7 % mean load).
    let setup = troubadour_io::thread::ThreadSetup {
        realtime_priority: Some(troubadour_io::thread::DEFAULT_PRIORITY),
        cpu: None,
    };
    let (backend, granted) =
        troubadour_io::null::NullBackend::start_with(engine, 256, setup).unwrap();
    println!("{}", granted.join("; "));
    let seconds = seconds();
    let mut rss_after_warm_up = 0;
    let t = traffic(&mut controller, seconds, || {
        rss_after_warm_up = resident_bytes();
    });
    let rss_end = resident_bytes();
    let s = backend.stats();
    let e = controller.stats();
    drop(backend.stop());
    println!(
        "null backend, {seconds} s: {} changes, {} refused, {} structural changes, {} meter looks ({} after a stall, not judged); \
         {} callbacks, {} overruns by the wall clock ({} by CPU time), {} late wake-ups, mean load {:.3} %; {} graph swaps; \
         resident {:.1} MB after warm-up, {:.1} MB at the end",
        t.changes,
        t.refused,
        t.swaps,
        t.looks,
        t.idle_looks,
        s.callbacks,
        s.late + s.late_stalled,
        s.late,
        s.xruns,
        s.load_mean * 100.0,
        e.graph_swaps,
        rss_after_warm_up as f64 / 1e6,
        rss_end as f64 / 1e6
    );
    // Engine-caused: the callback's own CPU time exceeded the period. Wall-clock overruns
    // (the thread was not running: preemption, a VM host stealing the CPU) are printed.
    assert_eq!(s.late, 0, "callbacks used more CPU time than their period");
    assert_eq!(s.alloc_violations, 0, "allocations inside the callback");
    support::assert_no_syscalls(s.syscall_violations);
    assert!(e.graph_swaps >= t.swaps.saturating_sub(1), "{e:?}");
    assert!(
        t.looks >= (seconds * 9.0) as u64,
        "the meter was read {} times",
        t.looks
    );
    let growth = rss_end.saturating_sub(rss_after_warm_up);
    assert!(
        growth <= 1 << 20,
        "resident memory grew by {growth} bytes after the warm-up"
    );
}
