//! What runs on the audio thread outside `Engine::process`, under the allocation guard:
//! the clock bridge's push and pull, the swap-and-return mailbox that brings a bridge in
//! and takes it out while the master callback runs, the null backend's callback, and
//! the MIDI client's pump (bytes in, feedback out, the control side woken).

use std::sync::mpsc;
use std::time::Duration;

use troubadour_dsp::resample::Quality;
use troubadour_io::bridge::{BridgeInput, BridgeOutput, input_bridge};
use troubadour_rt::alloc_guard::{GuardedAllocator, forbid_alloc, thread_violations};
use troubadour_rt::exchange::exchange;

#[global_allocator]
static ALLOC: GuardedAllocator = GuardedAllocator;

const PERIOD: usize = 256;

fn sine(frames: usize, channels: usize, k0: usize) -> Vec<f32> {
    (0..frames * channels)
        .map(|i| 0.5 * ((k0 + i / channels) as f32 * 0.05).sin())
        .collect()
}

#[test]
fn bridge_push_and_pull_allocate_nothing() {
    for (device_rate, channels) in [(48_000, 2), (44_100, 2), (96_000, 1), (48_000, 8)] {
        let (mut input, mut output) =
            input_bridge(channels, device_rate, 48_000, PERIOD, PERIOD, Quality::High).unwrap();
        let device_frames = PERIOD * device_rate as usize / 48_000;
        let captured = sine(device_frames, channels, 0);
        let mut pulled = vec![0.0f32; PERIOD * channels];
        let before = thread_violations();
        let mut heard = 0.0f32;
        forbid_alloc(|| {
            for k in 0..2_000u64 {
                let now = k * 5_333_333;
                input.push(&captured, now);
                output.pull(&mut pulled, now + 1_000);
                heard = heard.max(pulled.iter().fold(0.0, |m, x| m.max(x.abs())));
            }
        });
        assert_eq!(
            thread_violations() - before,
            0,
            "{device_rate} Hz, {channels} channels"
        );
        // Real work was done: the tone came through.
        assert!(heard > 0.4, "{device_rate} Hz: peak {heard}");
    }
}

#[test]
fn bridges_swapped_in_and_out_of_a_running_callback_allocate_nothing_there() {
    let (mut control, mut audio) = exchange::<Option<Box<BridgeOutput>>>(4);
    let mut current: Option<Box<BridgeOutput>> = None;
    let mut inputs: Vec<BridgeInput> = Vec::new();
    let mut pulled = vec![0.0f32; PERIOD * 2];
    let before = thread_violations();
    for round in 0..50 {
        // Control thread: a new bridge (built here, where allocating is fine), or none.
        if round % 3 == 2 {
            assert!(control.send(None).is_ok());
        } else {
            let (input, output) =
                input_bridge(2, 44_100, 48_000, PERIOD, PERIOD, Quality::High).unwrap();
            inputs.push(input);
            assert!(control.send(Some(Box::new(output))).is_ok());
        }
        // Audio thread: take it up and pull from it, for a few periods.
        forbid_alloc(|| {
            for k in 0..8 {
                audio.receive(&mut current, |_, _| {});
                match current.as_deref_mut() {
                    Some(output) => output.pull(&mut pulled, k * 5_333_333),
                    None => pulled.fill(0.0),
                }
            }
        });
        // Control thread: free what came back.
        control.collect();
    }
    assert_eq!(thread_violations() - before, 0);
}

#[test]
fn a_push_of_a_partial_frame_returns_and_is_counted() {
    let (tx, rx) = mpsc::channel();
    // In a thread of its own: before the fix, this push never returned.
    std::thread::spawn(move || {
        let (mut input, _output) =
            input_bridge(2, 48_000, 48_000, PERIOD, PERIOD, Quality::High).unwrap();
        // Two and a half stereo frames, then a lone sample.
        input.push(&[0.1, 0.1, 0.2, 0.2, 0.3], 0);
        input.push(&[0.4], 1);
        tx.send(input.partial_frames()).unwrap();
    });
    let partial = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("push of a partial frame never returned");
    assert_eq!(partial, 2);
}

#[test]
fn the_null_backends_callback_allocates_nothing() {
    use troubadour_engine::{EngineOptions, create};
    use troubadour_io::null::NullBackend;
    let loaded = troubadour_engine::workload::standard(
        4,
        2,
        256,
        troubadour_engine::workload::Inputs::Noise,
    );
    let (mut controller, engine) = create(&loaded, &EngineOptions::default()).unwrap();
    let backend = NullBackend::start(engine, 256).unwrap();
    // Control traffic while it runs: every kind of parameter change the API sends.
    for k in 0..200 {
        let x = (k % 20) as f32 / 20.0;
        let _ = controller.set_strip_fader("S0", -20.0 * x);
        let _ = controller.set_strip_pan("S1", 2.0 * x - 1.0);
        let _ = controller.set_bus_fader("B0", -6.0 * x);
        std::thread::sleep(Duration::from_millis(2));
        controller.collect_garbage();
    }
    let s = backend.stats();
    drop(backend.stop());
    assert!(s.callbacks > 50, "{s:?}");
    assert_eq!(s.alloc_violations, 0, "{s:?}");
}

#[test]
fn an_allocation_inside_a_guarded_callback_is_counted_not_fatal() {
    let stats = troubadour_io::accounting::CallbackStats::default();
    let made = stats.guarded(|| std::hint::black_box(Vec::<u64>::with_capacity(16)).capacity());
    assert_eq!(made, 16);
    // One allocation, one free: both inside the section.
    assert_eq!(stats.snapshot().alloc_violations, 2);
    stats.guarded(|| 1 + 1);
    assert_eq!(stats.snapshot().alloc_violations, 2);
}

#[test]
fn the_midi_pump_moves_bytes_and_stamps_periods_allocating_nothing_and_calling_nothing() {
    use std::sync::atomic::Ordering;
    use troubadour_io::midi::link;
    use troubadour_rt::syscall_guard;

    syscall_guard::install().expect("syscall user dispatch here");
    let (mut control, mut pump) = link();
    for k in 0..64u8 {
        assert!(control.send([0xB0, 7, k]));
    }
    let cc = [0xB0u8, 1, 100];
    let note = [0x90u8, 36, 127];
    let mut taken = 0usize;
    let before = thread_violations();
    // A period with nothing in, whose port takes only 16 messages (the rest wait).
    forbid_alloc(|| {
        pump.pump(std::iter::empty(), |_| {
            taken += 1;
            taken <= 16
        })
    });
    assert_eq!(taken, 17);
    assert_eq!(control.cycles(), 1, "the period is stamped");
    let period = Duration::from_millis(20);
    let look = control.next_input_in(period).expect("locked to the stamp");
    assert!(look <= period + Duration::from_micros(50), "{look:?}");
    // A period with input: the rest goes out; the bytes wait in the ring.
    let mut sent = 0usize;
    forbid_alloc(|| {
        pump.pump([&cc[..], &note[..]].into_iter(), |_| {
            sent += 1;
            true
        })
    });
    assert_eq!(thread_violations() - before, 0);
    assert_eq!(sent, 48);
    assert_eq!(control.cycles(), 2);
    let mut buf = [0u8; 16];
    assert_eq!(control.read(&mut buf), 6);
    assert_eq!(&buf[..6], &[0xB0, 1, 100, 0x90, 36, 127]);
    let stats = control.stats();
    assert_eq!(stats.events_in.load(Ordering::Relaxed), 2);
    assert_eq!(stats.events_out.load(Ordering::Relaxed), 64);
    assert_eq!(stats.out_full.load(Ordering::Relaxed), 1);
    assert_eq!(stats.alloc_violations.load(Ordering::Relaxed), 0);
    // Both periods ran guarded (this thread is armed) and made no system call: the
    // control side is never woken from here.
    assert!(syscall_guard::armed_threads() > 0);
    assert_eq!(stats.syscall_violations.load(Ordering::Relaxed), 0);
}
