//! A burst of control traffic cannot push a callback past its deadline: each callback
//! applies at most `MAX_COMMANDS_PER_CALLBACK` commands (the rest wait, in order), and
//! of a run of changes to one parameter only the last is applied.

use troubadour_engine::session::Session;
use troubadour_engine::{EngineOptions, MAX_COMMANDS_PER_CALLBACK, create, workload};

fn with_eq_shift(base: &Session, shift: f64) -> Session {
    let mut s = base.clone();
    for strip in &mut s.strips {
        for band in &mut strip.eq {
            band.freq += shift;
        }
    }
    s
}

#[test]
fn a_full_queue_of_eq_changes_is_applied_a_callbacks_worth_at_a_time() {
    let loaded = workload::standard(64, 4, 256, workload::Inputs::Noise);
    let options = EngineOptions {
        command_capacity: 1024,
        ..EngineOptions::default()
    };
    let (mut controller, mut engine) = create(&loaded, &options).unwrap();
    // Three rounds of every strip band moved: 3 × 256 commands, no two in a row for the
    // same band, so none coalesces.
    let mut sent = 0;
    for shift in [10.0, 20.0, 30.0] {
        let next = with_eq_shift(&loaded.session, shift);
        match controller.apply_session(next).unwrap() {
            troubadour_engine::Applied::Parameters(n) => sent += n,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 3 * 64 * 4);
    let mut outs = vec![vec![0.0f32; 256]; engine.output_channels()];
    let ins = vec![vec![0.0f32; 256]; engine.input_channels()];
    let mut applied = Vec::new();
    let mut before = controller.stats().commands;
    while before < sent as u64 {
        let i: Vec<&[f32]> = ins.iter().map(|c| c.as_slice()).collect();
        let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|c| c.as_mut_slice()).collect();
        engine.process(&i, &mut o, 256);
        let now = controller.stats().commands;
        applied.push(now - before);
        before = now;
        assert!(applied.len() < 100, "{applied:?}");
    }
    let per = MAX_COMMANDS_PER_CALLBACK as u64;
    assert!(applied.iter().all(|&n| n <= per), "{applied:?}");
    assert_eq!(
        applied.len(),
        sent.div_ceil(MAX_COMMANDS_PER_CALLBACK),
        "{applied:?}"
    );
    let s = controller.stats();
    assert_eq!((s.coalesced_commands, s.stale_commands), (0, 0), "{s:?}");
}

#[test]
fn a_run_of_changes_to_one_fader_applies_only_the_last() {
    let loaded = workload::plain(1, 1, 256, workload::Inputs::Noise);
    let strip = loaded.session.strips[0].name.clone();
    let (mut controller, mut engine) = create(&loaded, &EngineOptions::default()).unwrap();
    for k in 0..1000 {
        controller
            .set_strip_fader(&strip, -60.0 + 0.06 * k as f32)
            .unwrap();
    }
    let mut outs = vec![vec![0.0f32; 256]; engine.output_channels()];
    let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|c| c.as_mut_slice()).collect();
    engine.process(&[], &mut o, 256);
    let s = controller.stats();
    assert_eq!((s.commands, s.coalesced_commands), (1, 999), "{s:?}");
    assert_eq!(
        controller.session().strips[0].fader_db,
        -60.0 + 0.06 * 999.0
    );
}
