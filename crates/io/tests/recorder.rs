//! Takes on disk: files that line up sample for sample and are equally long, levels,
//! dither, RF64 past a (forced, small) threshold read back by sox, a stalled writer
//! that loses frames and says how many, a take cut off mid-write repaired; the same in
//! FLAC, checked by libFLAC's `flac -t` and decoded by sox.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troubadour_engine::recorder::{TapPoint, TrackSpec};
use troubadour_engine::{Controller, Engine, EngineOptions, create, session};
use troubadour_io::recorder::{Manifest, Take, TakeFormat, TakeSetup, TakeState, repair_takes};
use troubadour_io::wav::SampleFormat;

const SESSION: &str = r#"
version = 1
block_frames = 256
[[strip]]
name = "Host"
channels = 1
source = { generator = "sine", freq = 1000.0, level_db = -6.0 }
fader_db = -6.0
sends = { A1 = {} }
[[strip]]
name = "Guest"
channels = 1
source = { generator = "sine", freq = 1000.0, level_db = -6.0 }
fader_db = -20.0
sends = { A1 = {} }
[[strip]]
name = "Quiet"
channels = 1
source = { generator = "silence" }
[[bus]]
name = "A1"
channels = 2
"#;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-rec-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// The engine on a thread of its own, 1024-frame callbacks at four times real time.
struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn start(mut engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut outs = vec![vec![0.0f32; 1024]; 2];
            let period = Duration::from_secs_f64(1024.0 / 48_000.0 / 4.0);
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let mut refs: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[..]).collect();
                engine.process(&[], &mut refs, 1024);
                next += period;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Running {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn mixer() -> (Controller, Engine) {
    let loaded = session::parse(SESSION, "podcast.toml".as_ref()).unwrap();
    create(&loaded, &EngineOptions::default()).unwrap()
}

fn setup(dir: &Path, format: TakeFormat) -> TakeSetup {
    let mono = |tap| TrackSpec { tap, channels: 1 };
    TakeSetup {
        dir: dir.to_path_buf(),
        session: "podcast".into(),
        sample_rate: 48_000,
        format,
        tracks: vec![
            ("strip/Host".into(), mono(TapPoint::StripPost(0))),
            ("strip/Guest:pre".into(), mono(TapPoint::StripPre(1))),
            ("strip/Quiet".into(), mono(TapPoint::StripPost(2))),
            (
                "bus/A1".into(),
                TrackSpec {
                    tap: TapPoint::Bus(0),
                    channels: 2,
                },
            ),
        ],
        buffer_seconds: 4.0,
        rf64_threshold: TakeSetup::RF64_AT,
        writer_stall: None,
    }
}

fn wait_for(take: &Take, frames: u64) {
    let begun = Instant::now();
    while take.frames() < frames {
        assert!(
            begun.elapsed() < Duration::from_secs(20),
            "the engine stalled"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A take's file as full-scale floats: WAV through hound, FLAC decoded by sox.
fn read_f32(path: &Path) -> Vec<f32> {
    if path.extension().is_some_and(|e| e == "flac") {
        let o = Command::new("sox")
            .arg(path)
            .args(["-t", "f32", "-e", "floating-point", "-"])
            .output()
            .expect("sox is not installed: run scripts/test.sh, which installs it");
        assert!(
            o.status.success(),
            "sox: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return o
            .stdout
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
    }
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match r.spec().sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let full = (1u64 << (r.spec().bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / full)
                .collect()
        }
    }
}

/// libFLAC's check of a FLAC file: every frame's CRCs, and the MD5 when stated.
fn flac_test(path: &Path) {
    let o = Command::new("flac")
        .args(["-t", "-s"])
        .arg(path)
        .output()
        .expect("flac is not installed: run scripts/test.sh, which installs it");
    assert!(
        o.status.success(),
        "flac -t {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn rms_db(x: &[f32]) -> f64 {
    let e: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    10.0 * (e / x.len() as f64).log10()
}

fn soxi_samples(path: &Path) -> u64 {
    let o = Command::new("soxi")
        .arg("-s")
        .arg(path)
        .output()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    assert!(
        o.status.success(),
        "soxi: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// The frequency of a mono sine, from its rising zero crossings.
fn frequency(x: &[f32]) -> f64 {
    // Periods between the first and the last rising zero crossing, each placed between
    // its two samples: counting crossings in the window would be off by one whenever
    // the window starts just past one.
    let ups: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| {
            let (a, b) = (f64::from(w[0]), f64::from(w[1]));
            i as f64 + a / (a - b)
        })
        .collect();
    assert!(ups.len() >= 2, "fewer than two rising zero crossings");
    (ups.len() - 1) as f64 * 48_000.0 / (ups[ups.len() - 1] - ups[0])
}

#[test]
fn a_take_is_one_aligned_file_per_track_with_a_manifest_and_markers() {
    let d = dir("take");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let mut take = Take::start(
        c.recorder(),
        &setup(&d.0, TakeFormat::Wav(SampleFormat::F32)),
    )
    .unwrap();
    assert!(
        take.folder()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with('Z')
    );
    wait_for(&take, 24_000);
    let marked = take.mark("intro done").unwrap();
    wait_for(&take, 96_000);
    let summary = take.stop(c.recorder()).unwrap();

    let m = Manifest::load(&summary.folder).unwrap();
    assert_eq!(m, summary.manifest);
    assert_eq!(m.state, TakeState::Complete);
    assert_eq!((m.session.as_str(), m.sample_rate), ("podcast", 48_000));
    assert_eq!(m.markers.len(), 1);
    assert_eq!(m.markers[0].frame, marked);
    assert!(marked >= 24_000);
    let frames = m.tracks[0].frames;
    assert!(frames >= 96_000, "{frames}");
    let names: Vec<&str> = m.tracks.iter().map(|t| t.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "strip-Host.wav",
            "strip-Guest-pre.wav",
            "strip-Quiet.wav",
            "bus-A1.wav"
        ]
    );
    for t in &m.tracks {
        assert_eq!(t.frames, frames, "{}: every track exactly as long", t.name);
        assert_eq!(t.dropped_frames, 0);
        assert_eq!(soxi_samples(&summary.folder.join(&t.file)), frames);
    }
    let host = read_f32(&summary.folder.join("strip-Host.wav"));
    let guest = read_f32(&summary.folder.join("strip-Guest-pre.wav"));
    let bus = read_f32(&summary.folder.join("bus-A1.wav"));
    assert_eq!(host.len() as u64, frames);
    // -6 dBFS peak sine: RMS -9.03 dB; post-fader Host -6 dB lower.
    assert!((rms_db(&host) + 15.05).abs() < 0.05, "{}", rms_db(&host));
    assert!((rms_db(&guest) + 9.03).abs() < 0.05, "{}", rms_db(&guest));
    assert!(
        (frequency(&host) - 1000.0).abs() < 1.0,
        "{}",
        frequency(&host)
    );
    // Same generator on both strips, same start: Guest pre-fader is Host × 2, sample
    // for sample (a cross-correlation peak at lag 0, exactly).
    for (f, (h, g)) in host.iter().zip(&guest).enumerate() {
        assert!((h - g * 0.501_187).abs() < 1e-5, "frame {f}: {h} vs {g}");
    }
    // The bus is Host + Guest post-fader (pan centre: -3 dB each side).
    let g = std::f32::consts::FRAC_1_SQRT_2 * (0.501_187 + 0.1);
    for f in (0..frames as usize).step_by(97) {
        assert!((bus[2 * f] - guest[f] * g).abs() < 1e-4, "bus frame {f}");
    }
}

#[test]
fn integer_takes_are_dithered_and_keep_their_level() {
    let d = dir("int");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    for (format, bits) in [(SampleFormat::S16, 16), (SampleFormat::S24, 24)] {
        let take = Take::start(c.recorder(), &setup(&d.0, TakeFormat::Wav(format))).unwrap();
        wait_for(&take, 48_000);
        let summary = take.stop(c.recorder()).unwrap();
        let guest = read_f32(&summary.folder.join("strip-Guest-pre.wav"));
        assert!(
            (rms_db(&guest) + 9.03).abs() < 0.05,
            "{bits} bits: {}",
            rms_db(&guest)
        );
        // Digital silence with TPDF dither of ±1 step, rounded: -1, 0 or +1 step, the
        // ±1 with probability 1/4, so an RMS of 1/2 step (dither 1/6 + rounding 1/12).
        let quiet = read_f32(&summary.folder.join("strip-Quiet.wav"));
        let step = 1.0 / (1u64 << (bits - 1)) as f64;
        let rms = 10f64.powf(rms_db(&quiet) / 20.0) / step;
        assert!(
            (rms - 0.5).abs() < 0.03,
            "{bits} bits: dither RMS {rms} steps"
        );
        assert!(quiet.iter().all(|&x| f64::from(x.abs()) <= step * 1.01));
    }
}

#[test]
fn past_a_forced_threshold_the_files_are_rf64_and_sox_reads_them_whole() {
    let d = dir("rf64");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let mut s = setup(&d.0, TakeFormat::Wav(SampleFormat::F32));
    s.rf64_threshold = 100_000;
    let take = Take::start(c.recorder(), &s).unwrap();
    wait_for(&take, 96_000);
    let summary = take.stop(c.recorder()).unwrap();
    for t in &summary.manifest.tracks {
        let path = summary.folder.join(&t.file);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[0..4], b"RF64", "{}", t.file);
        assert_eq!(&bytes[12..16], b"ds64");
        let frames = u64::from_le_bytes(bytes[36..44].try_into().unwrap());
        assert_eq!(frames, t.frames);
        assert_eq!(soxi_samples(&path), t.frames);
        // hound does not read RF64 (it looks for a RIFF tag): what it cannot read, sox
        // did, whole.
        let Err(e) = hound::WavReader::open(&path) else {
            panic!("hound read an RF64 file");
        };
        assert!(e.to_string().contains("RIFF"), "{e}");
    }
}

#[test]
fn a_stalled_writer_loses_frames_reports_them_and_keeps_the_tracks_aligned() {
    let d = dir("stall");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let mut s = setup(&d.0, TakeFormat::Wav(SampleFormat::F32));
    s.buffer_seconds = 0.5;
    // At four times real time, a 1 s stall is 4 s of audio against a 0.5 s ring.
    s.writer_stall = Some(Duration::from_secs(1));
    let take = Take::start(c.recorder(), &s).unwrap();
    wait_for(&take, 48_000 * 6);
    let lost_live = take.lost_frames();
    assert!(lost_live.iter().all(|&l| l > 48_000), "{lost_live:?}");
    let summary = take.stop(c.recorder()).unwrap();
    let m = &summary.manifest;
    let frames = m.tracks[0].frames;
    for t in &m.tracks {
        assert_eq!(t.frames, frames, "{}: equally long", t.name);
        assert!(
            t.dropped_frames >= 48_000 * 2,
            "{}: {}",
            t.name,
            t.dropped_frames
        );
    }
    // Aligned through the gaps: wherever Guest has signal, Host has the same.
    let host = read_f32(&summary.folder.join("strip-Host.wav"));
    let guest = read_f32(&summary.folder.join("strip-Guest-pre.wav"));
    assert_eq!(host.len(), guest.len());
    let mut compared = 0;
    for (h, g) in host.iter().zip(&guest) {
        if *g != 0.0 && *h != 0.0 {
            assert!((h - g * 0.501_187).abs() < 1e-5);
            compared += 1;
        }
    }
    assert!(compared > 48_000, "{compared}");
}

#[test]
fn a_flac_take_is_aligned_lossless_to_its_bits_and_checks_out_with_libflac() {
    let d = dir("flac");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let take = Take::start(c.recorder(), &setup(&d.0, TakeFormat::Flac { bits: 24 })).unwrap();
    // Past a header update (every 2 s of wall time), and not a whole number of blocks.
    wait_for(&take, 48_000 * 12 + 1_000);
    let summary = take.stop(c.recorder()).unwrap();
    let m = &summary.manifest;
    assert_eq!(m.format, "flac-24");
    let frames = m.tracks[0].frames;
    for t in &m.tracks {
        assert!(t.file.ends_with(".flac"), "{}", t.file);
        assert_eq!(t.frames, frames, "{}: every track exactly as long", t.name);
        let path = summary.folder.join(&t.file);
        flac_test(&path);
        assert_eq!(soxi_samples(&path), frames, "{}", t.file);
    }
    let host = read_f32(&summary.folder.join("strip-Host.flac"));
    let guest = read_f32(&summary.folder.join("strip-Guest-pre.flac"));
    assert_eq!(host.len() as u64, frames);
    assert!((rms_db(&host) + 15.05).abs() < 0.05, "{}", rms_db(&host));
    assert!((rms_db(&guest) + 9.03).abs() < 0.05, "{}", rms_db(&guest));
    // Aligned sample for sample, each within its dither (1.5 steps of 24 bits).
    let step = 1.0 / f32::from(1u16 << 15) / 256.0;
    for (f, (h, g)) in host.iter().zip(&guest).enumerate() {
        assert!(
            (h - g * 0.501_187).abs() < 3.0 * step + 1e-6,
            "frame {f}: {h} vs {g}"
        );
    }
    // Lossless to 24 bits and about half a 24-bit WAV's size.
    let bytes = std::fs::metadata(summary.folder.join("bus-A1.flac"))
        .unwrap()
        .len();
    let wav24 = frames * 2 * 3;
    assert!(
        bytes < wav24 * 3 / 4,
        "{bytes} bytes against {wav24} in WAV"
    );
}

#[test]
fn a_take_cut_off_mid_write_is_repaired_from_the_file_lengths() {
    for format in [
        TakeFormat::Wav(SampleFormat::S24),
        TakeFormat::Flac { bits: 24 },
    ] {
        repaired_after_a_cut(format);
    }
}

fn repaired_after_a_cut(format: TakeFormat) {
    let d = dir(&format!("repair-{}", format.name()));
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let take = Take::start(c.recorder(), &setup(&d.0, format)).unwrap();
    // Past the first header update (every 2 s of wall time), then copy the folder as a
    // kill -9 would leave it: files as far as written, manifest saying "recording".
    std::thread::sleep(Duration::from_millis(2500));
    let at_copy = take.frames();
    let crashed = d.0.join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    let copy = crashed.join("2026-01-01T00-00-00Z");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(take.folder()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    // Cut the bus file mid-frame, as a write cut off can.
    let bus = copy.join(format!("bus-A1.{}", format.extension()));
    let len = std::fs::metadata(&bus).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bus)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    take.stop(c.recorder()).unwrap();

    let (repaired, failed) = repair_takes(&crashed);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(repaired.len(), 1);
    let m = Manifest::load(&copy).unwrap();
    assert_eq!(m.state, TakeState::Repaired);
    for (t, &frames) in m.tracks.iter().zip(&repaired[0].frames) {
        let path = copy.join(&t.file);
        assert_eq!(t.frames, frames);
        assert_eq!(soxi_samples(&path), frames, "{}", t.file);
        // Readable up to the last header update at most 2 s (wall time) before the copy:
        // 8 s of audio at four times real time, plus a block or two.
        assert!(
            frames + 48_000 * 8 + 4096 >= at_copy,
            "{}: {frames} of {at_copy}",
            t.file
        );
        assert!(frames > 48_000, "{}: {frames}", t.file);
        assert_eq!(read_f32(&path).len() as u64, frames * u64::from(t.channels));
        if matches!(format, TakeFormat::Flac { .. }) {
            flac_test(&path);
        }
    }
    // A second pass finds nothing to do.
    assert!(repair_takes(&crashed).0.is_empty());
}

#[test]
fn a_bus_sink_named_flac_is_written_in_flac_beside_a_wav_one() {
    use troubadour_io::recorder::{SinkFile, SinkRecording, SinkSetup};
    let d = dir("sinks");
    let (mut c, e) = mixer();
    let _engine = Running::start(e);
    let bus = TrackSpec {
        tap: TapPoint::Bus(0),
        channels: 2,
    };
    let sink = |name: &str| SinkFile {
        bus: "A1".into(),
        path: d.0.join(name),
        spec: bus,
    };
    let setup = SinkSetup {
        files: vec![sink("mix.flac"), sink("mix.wav")],
        sample_rate: 48_000,
        format: SampleFormat::S24,
        flac_bits: 24,
        buffer_seconds: 4.0,
        rf64_threshold: TakeSetup::RF64_AT,
    };
    let rec = SinkRecording::start(c.sink_recorder(), &setup).unwrap();
    while rec.frames() < 48_000 * 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let results = rec.stop(c.sink_recorder()).unwrap();
    assert_eq!(results[0].frames, results[1].frames);
    let flac = d.0.join("mix.flac");
    assert_eq!(&std::fs::read(&flac).unwrap()[..4], b"fLaC");
    flac_test(&flac);
    let (a, b) = (read_f32(&flac), read_f32(&d.0.join("mix.wav")));
    assert_eq!(a.len(), b.len());
    // The same bus, both at 24 bits with their own dither: within 3 steps.
    let step = 1.0 / 8_388_608.0;
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 3.0 * step));
}
