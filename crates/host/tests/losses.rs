//! A hundred losses of the backend in a row: one controller throughout, no thread left
//! behind (its own test binary, so that no other test's clock threads are counted).

mod scripted;

use std::time::Duration;

use scripted::*;
use troubadour_host::{HostEvent, HostStatus};
use troubadour_io::backend::BackendKind;

#[test]
fn a_hundred_losses_keep_one_controller_and_leak_no_thread() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, _) = start(&w, "losses");
    host.controller_mut().set_strip_fader("Tone", -6.0).unwrap();
    assert_eq!(threads_named("troubadour-null"), 1);
    let threads_at_start = threads();
    let mut callbacks = 0;
    for round in 0..100 {
        {
            let mut world = w.lock().unwrap();
            world.up = false;
            world.epoch += 1;
        }
        until(&mut host, &rx, |e| {
            matches!(e, HostEvent::BackendLost { .. })
        });
        assert!(matches!(host.status(), HostStatus::Reconnecting { .. }));
        // State and meters are readable while nothing runs.
        assert_eq!(host.controller().session().strips[0].fader_db, -6.0);
        assert_eq!(host.controller().read_meters().buses.len(), 1);
        assert!(host.backend_stats().is_none());
        // A few failed attempts, then the server answers again.
        for _ in 0..3 {
            host.tick();
            std::thread::sleep(Duration::from_millis(2));
        }
        w.lock().unwrap().up = true;
        let seen = until(&mut host, &rx, |e| {
            matches!(e, HostEvent::Reconnected { .. })
        });
        let attempts = seen.iter().find_map(|e| match e {
            HostEvent::Reconnected { attempts, .. } => Some(*attempts),
            _ => None,
        });
        assert!(attempts.unwrap() >= 1, "round {round}: {seen:#?}");
        assert_eq!(host.controller().session().strips[0].fader_db, -6.0);
        // The engine's counters run on across restarts (one controller, one set).
        let now = host.controller().stats().callbacks;
        assert!(now >= callbacks, "round {round}: {now} < {callbacks}");
        callbacks = now;
    }
    assert_eq!(w.lock().unwrap().starts, 101);
    assert_eq!(threads_named("troubadour-null"), 1, "clock threads leaked");
    assert_eq!(threads(), threads_at_start, "threads leaked");
    std::thread::sleep(Duration::from_millis(50));
    assert!(host.controller().stats().callbacks > callbacks);
    // A change made now reaches the engine running under the hundred-and-first start.
    host.controller_mut().set_strip_mute("Tone", true).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = host.controller().read_meters();
    std::thread::sleep(Duration::from_millis(100));
    let m = host.controller().read_meters();
    assert!(m.buses[0].post[0].peak_db < -100.0, "muted, yet {m:?}");
    let closing = host.shutdown();
    assert!(closing.starts_with("stopped after"), "{closing}");
    assert_eq!(threads_named("troubadour-null"), 0);
}
