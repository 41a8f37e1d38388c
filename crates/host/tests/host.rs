//! The host's supervision, without a real server (see `scripted`).

mod scripted;

use std::time::Duration;

use scripted::*;
use troubadour_host::{HostEvent, HostStatus};
use troubadour_io::backend::{BackendKind, DeviceChange};

#[test]
fn the_start_is_told_to_the_first_listener() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, _) = start(&w, "start");
    let seen = until(
        &mut host,
        &rx,
        |e| matches!(e, HostEvent::Note(l) if l.starts_with("latency")),
    );
    assert!(
        matches!(&seen[0], HostEvent::BackendStarted { kind: BackendKind::Jack, clock, .. }
            if clock.sample_rate == 48_000 && clock.period_frames == 256),
        "{seen:#?}"
    );
    assert!(seen.contains(&HostEvent::DeviceOffline(
        "strip \"Mic\": no port matches \"nothing\"".into()
    )));
    let latency = seen.last().unwrap().to_string();
    assert!(
        latency.contains("256 frames capture + 256 playback"),
        "{latency}"
    );
    // The engine runs: the tone reaches the bus meter at -12 dBFS.
    std::thread::sleep(Duration::from_millis(200));
    let m = host.controller().read_meters();
    assert!((m.buses[0].post[0].peak_db + 12.0).abs() < 0.1, "{m:?}");
}

#[test]
fn a_new_period_is_told_and_rebuilds_nothing() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, _) = start(&w, "period");
    w.lock().unwrap().period = 1024;
    let seen = until(&mut host, &rx, |e| matches!(e, HostEvent::PeriodChanged(_)));
    assert_eq!(
        seen.last().unwrap().to_string(),
        "the server's period is now 1024 frames (21.33 ms)"
    );
    assert_eq!(host.clock().period_frames, 1024);
    assert_eq!(w.lock().unwrap().starts, 1);
}

#[test]
fn a_new_rate_rebuilds_the_engine_for_it() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, _) = start(&w, "rate");
    w.lock().unwrap().rate = 44_100;
    let seen = until(&mut host, &rx, |e| matches!(e, HostEvent::Restarted { .. }));
    assert!(
        seen.iter()
            .any(|e| e.to_string().contains("the server now runs at 44100 Hz")),
        "{seen:#?}"
    );
    assert_eq!(host.controller().session().sample_rate, 44_100);
    assert_eq!(host.clock().sample_rate, 44_100);
    assert_eq!(w.lock().unwrap().starts, 2);
    std::thread::sleep(Duration::from_millis(200));
    let m = host.controller().read_meters();
    assert!((m.buses[0].post[0].peak_db + 12.0).abs() < 0.1, "{m:?}");
}

#[test]
fn devices_that_go_and_come_back_are_events() {
    let w = world(BackendKind::Cpal);
    let (mut host, rx, _) = start(&w, "devices");
    w.lock().unwrap().changes = vec![
        DeviceChange::Offline("bus \"B1\": device \"usb\" went away".into()),
        DeviceChange::Online("bus \"B1\": device \"usb\" opened again".into()),
    ];
    let seen = until(&mut host, &rx, |e| matches!(e, HostEvent::DeviceOnline(_)));
    let lines: Vec<String> = seen.iter().map(ToString::to_string).collect();
    assert!(lines.contains(&"offline: bus \"B1\": device \"usb\" went away".to_string()));
    assert!(lines.contains(&"online: bus \"B1\": device \"usb\" opened again".to_string()));
}

#[test]
fn a_server_that_answers_but_refuses_is_told_and_retried() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, _) = start(&w, "refuse");
    {
        let mut world = w.lock().unwrap();
        world.epoch += 1;
        world.refuse = true;
    }
    until(&mut host, &rx, |e| matches!(e, HostEvent::RetryFailed(_)));
    w.lock().unwrap().refuse = false;
    until(&mut host, &rx, |e| {
        matches!(e, HostEvent::Reconnected { .. })
    });
    assert!(matches!(host.status(), HostStatus::Running { .. }));
}

#[test]
fn a_parameter_edit_glides_and_an_invalid_one_is_refused() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, path) = start(&w, "reload");
    let seen = edit(
        &mut host,
        &rx,
        &path,
        &SESSION.replace(
            "sends = { A1 = {} }",
            "fader_db = -6.0\nsends = { A1 = {} }",
        ),
    );
    assert!(
        seen.last()
            .unwrap()
            .to_string()
            .ends_with("1 parameter changes, gliding"),
        "{seen:#?}"
    );
    assert_eq!(host.controller().session().strips[0].fader_db, -6.0);
    let seen = edit(
        &mut host,
        &rx,
        &path,
        &SESSION
            .replace("fader", "")
            .replace("channels = 2", "channels = 99"),
    );
    let line = seen.last().unwrap().to_string();
    assert!(
        line.contains("rejected, the running session is unchanged"),
        "{line}"
    );
    assert!(line.contains("channels"), "{line}");
    assert_eq!(host.controller().session().strips[0].fader_db, -6.0);
    assert_eq!(host.controller().session().buses[0].channels, 2);
    assert_eq!(w.lock().unwrap().starts, 1);
}

#[test]
fn a_rate_edit_restarts_a_backend_of_our_own_and_is_explained_on_jack() {
    let own = world(BackendKind::Null);
    let (mut host, rx, path) = start(&own, "rate-own");
    own.lock().unwrap().rate = 96_000; // what the scripted "device" will now run at
    let seen = edit(
        &mut host,
        &rx,
        &path,
        &SESSION.replace("sample_rate = 48000", "sample_rate = 96000"),
    );
    let line = seen.last().unwrap().to_string();
    assert!(
        line.contains("sample_rate is now 96000 Hz: the backend restarts"),
        "{line}"
    );
    until(&mut host, &rx, |e| matches!(e, HostEvent::Restarted { .. }));
    assert_eq!(host.controller().session().sample_rate, 96_000);

    let jack = world(BackendKind::Jack);
    let (mut host, rx, path) = start(&jack, "rate-jack");
    let seen = edit(
        &mut host,
        &rx,
        &path,
        &SESSION.replace("sample_rate = 48000", "sample_rate = 44100"),
    );
    let line = seen.last().unwrap().to_string();
    assert!(
        line.contains("sample_rate is now 44100 Hz, but the JACK server runs at 48000 Hz"),
        "{line}"
    );
    assert!(!line.contains("no change"), "{line}");
    assert_eq!(jack.lock().unwrap().starts, 1);
}

#[test]
fn a_deleted_session_file_is_told_and_the_mix_plays_on() {
    let w = world(BackendKind::Jack);
    let (mut host, rx, path) = start(&w, "deleted");
    std::fs::remove_file(&path).unwrap();
    let seen = until(&mut host, &rx, |e| {
        matches!(e, HostEvent::SessionFileGone(_))
    });
    assert!(seen.last().unwrap().to_string().contains("keeps running"));
    assert!(matches!(host.status(), HostStatus::Running { .. }));
    // Written back: an edit like any other.
    let seen = edit(
        &mut host,
        &rx,
        &path,
        &SESSION.replace("sends = { A1 = {} }", "mute = true\nsends = { A1 = {} }"),
    );
    assert!(
        seen.last()
            .unwrap()
            .to_string()
            .contains("1 parameter changes")
    );
}

#[test]
fn a_strip_whose_file_is_missing_plays_silence_until_the_file_appears() {
    let (path, _) = session_file("missing");
    let text = SESSION.replace(
        r#"source = { generator = "sine", freq = 1000.0, level_db = -12.0 }"#,
        r#"source = { file = "later.wav", loop = true }"#,
    );
    std::fs::write(&path, &text).unwrap();
    // The session as `run` loads it: the missing file is a warning, not an error.
    assert!(troubadour_engine::session::load(&path).is_err());
    let loaded = troubadour_engine::session::load_live(&path).unwrap();
    assert!(
        loaded.warnings[0]
            .to_string()
            .contains("silent until the file appears")
    );
    let w = world(BackendKind::Jack);
    let driver = ScriptedDriver {
        world: std::sync::Arc::clone(&w),
        period: 0,
    };
    let mut host = troubadour_host::Host::start_on(loaded, config(), Box::new(driver)).unwrap();
    let rx = host.subscribe();
    let seen = until(
        &mut host,
        &rx,
        |e| matches!(e, HostEvent::DeviceOffline(l) if l.contains("later.wav not found")),
    );
    assert!(
        seen.last()
            .unwrap()
            .to_string()
            .contains("silent until it appears")
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(host.controller().read_meters().buses[0].post[0].peak_db < -100.0);
    // The file appears: a 0.5 s 440 Hz tone at -6 dBFS peak.
    let wav = path.parent().unwrap().join("later.wav");
    let mut writer = hound::WavWriter::create(
        &wav,
        hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        },
    )
    .unwrap();
    for k in 0..24_000 {
        let x = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * k as f64 / 48_000.0).sin();
        writer.write_sample(x as f32).unwrap();
    }
    writer.finalize().unwrap();
    let seen = until(&mut host, &rx, |e| matches!(e, HostEvent::DeviceOnline(_)));
    assert!(
        seen.last()
            .unwrap()
            .to_string()
            .contains("later.wav appeared and plays"),
        "{seen:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let _ = host.controller().read_meters();
    std::thread::sleep(Duration::from_millis(200));
    let peak = host.controller().read_meters().buses[0].post[0].peak_db;
    // A mono file feeds both channels of the (stereo) strip: -6.02 dBFS on the bus.
    assert!((peak + 6.02).abs() < 0.1, "peak {peak} dBFS");
}

#[test]
fn edits_made_while_the_backend_is_away_are_kept_and_run_when_it_is_back() {
    let w = world(BackendKind::Null);
    let (mut host, rx, path) = start(&w, "away");
    {
        let mut world = w.lock().unwrap();
        world.up = false;
        world.epoch += 1;
    }
    until(&mut host, &rx, |e| {
        matches!(e, HostEvent::BackendLost { .. })
    });
    // Structural edits (a bus, then a second one), a rate edit and parameter changes, all
    // while nothing runs: each is taken, none waits in a queue nobody drains.
    let two = format!("{SESSION}\n[[bus]]\nname = \"B1\"\nchannels = 2\n");
    let seen = edit(&mut host, &rx, &path, &two);
    assert!(
        matches!(seen.last(), Some(HostEvent::ReloadApplied { .. })),
        "{seen:#?}"
    );
    let three = format!("{two}\n[[bus]]\nname = \"B2\"\nchannels = 1\n");
    let three = three.replace("sample_rate = 48000", "sample_rate = 44100");
    let seen = edit(&mut host, &rx, &path, &three);
    assert!(
        matches!(seen.last(), Some(HostEvent::ReloadApplied { .. })),
        "{seen:#?}"
    );
    for k in 0..2000 {
        host.controller_mut()
            .set_strip_fader("Tone", -(k % 40) as f32)
            .unwrap();
    }
    host.controller_mut().set_strip_fader("Tone", -6.0).unwrap();
    assert_eq!(host.controller().session().buses.len(), 3);
    // Back: one start, at the rate the file asks for, with every edit in it.
    {
        let mut world = w.lock().unwrap();
        world.rate = 44_100;
        world.up = true;
    }
    until(&mut host, &rx, |e| {
        matches!(e, HostEvent::Reconnected { .. })
    });
    for _ in 0..20 {
        host.tick();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(w.lock().unwrap().starts, 2, "started twice after the loss");
    assert_eq!(host.controller().session().sample_rate, 44_100);
    assert_eq!(host.controller().session().strips[0].fader_db, -6.0);
    std::thread::sleep(Duration::from_millis(200));
    let m = host.controller().read_meters();
    assert_eq!(m.buses.len(), 3);
    // The tone at -12 dBFS through the fader at -6 dB reaches the first bus.
    assert!((m.buses[0].post[0].peak_db + 18.0).abs() < 0.2, "{m:?}");
}
