//! The stress test on a private JACK server (dummy driver, 1024-frame periods): random
//! control traffic at 1 kHz with structural swaps, no engine-caused late callback and no
//! allocation inside the process callback. Its own test binary, so the process-wide
//! `JACK_DEFAULT_SERVER` it sets is seen by no other test.
//!
//! ```text
//! TROUBADOUR_STRESS_SECS=3600 cargo test --release --test stress_jack -- --ignored
//! ```

#[path = "../support/mod.rs"]
mod support;
#[path = "../stress/traffic.rs"]
mod traffic;

use troubadour_engine::{EngineOptions, create};

/// The allocator that counts allocations inside callbacks (as the binary's does), so the
/// backend's count of them means something here.
#[global_allocator]
static ALLOC: troubadour_rt::alloc_guard::GuardedAllocator =
    troubadour_rt::alloc_guard::GuardedAllocator;
use traffic::{seconds, session, traffic};

#[test]
#[ignore = "long: cargo test --release --test stress_jack -- --ignored (TROUBADOUR_STRESS_SECS)"]
fn jack_under_random_traffic_and_swaps() {
    // System calls in callbacks counted, as the binary counts them.
    troubadour_rt::syscall_guard::install().expect("syscall user dispatch here");
    let server = support::Server::start_realtime("stress");
    // SAFETY: this binary's only test, so no other thread of ours reads or writes the
    // environment now; libjack reads the variable when the client opens, just below.
    unsafe { std::env::set_var("JACK_DEFAULT_SERVER", &server.name) };
    let connection = troubadour_io::jack::JackConnection::open("troubadour-stress")
        .expect("a client on the private JACK server");
    let loaded = session();
    let (mut controller, engine) = create(&loaded, &EngineOptions::default()).unwrap();
    let (backend, notes) = connection.start(engine, &loaded.session).unwrap();
    for n in notes {
        println!("note: {n}");
    }
    let seconds = seconds();
    let t = traffic(&mut controller, seconds, || {});
    let s = backend.stats();
    drop(backend.stop());
    println!(
        "JACK, {seconds} s: {} changes, {} structural changes; {} callbacks, {} server xruns, {} late (+{} stalled), {} allocations in callbacks, mean load {:.3} %",
        t.changes,
        t.swaps,
        s.callbacks,
        s.xruns,
        s.late,
        s.late_stalled,
        s.alloc_violations,
        s.load_mean * 100.0
    );
    assert!(s.callbacks > 0, "the JACK client never ran");
    assert_eq!(s.late, 0, "callbacks used more CPU time than their period");
    assert_eq!(
        s.alloc_violations, 0,
        "allocations inside the process callback"
    );
    support::assert_no_syscalls(s.syscall_violations);
}
