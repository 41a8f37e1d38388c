//! A private PipeWire + WirePlumber + pipewire-pulse on a private session bus, in a
//! runtime directory of its own (no sound card needed), and what the PipeWire tests
//! measure in recordings. Needs Debian's pipewire, pipewire-bin, pipewire-pulse,
//! wireplumber, pulseaudio-utils and dbus packages, which `scripts/test.sh` installs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::{Dir, lines, read_wav};

/// A private PipeWire with 48 kHz stereo null sinks `test_sink` and `test_sink2`;
/// stopped on drop.
pub struct PipeWire {
    pub runtime: PathBuf,
    children: Vec<Child>,
}

impl PipeWire {
    pub fn start(dir: &Dir) -> Self {
        // The stack sometimes fails to come up on this VM (seen once in five runs:
        // pipewire-pulse never answered); a second attempt from scratch has done.
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let runtime = dir.0.join(format!("runtime{attempt}"));
            match PipeWire::try_start(runtime) {
                Ok(pw) => return pw.with_sinks(),
                Err(why) => failures.push(format!("attempt {attempt}: {why}")),
            }
        }
        panic!("PipeWire did not start: {}", failures.join("; "));
    }

    /// dbus, then PipeWire once the bus's socket exists, then WirePlumber and
    /// pipewire-pulse once PipeWire's socket exists, until `pactl` gets an answer.
    pub fn try_start(runtime: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&runtime).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut pw = PipeWire {
            runtime,
            children: Vec::new(),
        };
        let wait_for = |what: &str, ready: &dyn Fn() -> bool, seconds: u64| {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            while !ready() {
                if Instant::now() > deadline {
                    return Err(format!("{what} not ready after {seconds} s"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        };
        let bus = format!("unix:path={}", pw.runtime.join("bus").display());
        pw.spawn(
            "dbus-daemon",
            &[
                "--session",
                "--nofork",
                "--nopidfile",
                &format!("--address={bus}"),
            ],
        );
        let socket = pw.runtime.join("bus");
        wait_for("the session bus", &|| socket.exists(), 5)?;
        pw.spawn("pipewire", &[]);
        let socket = pw.runtime.join("pipewire-0");
        wait_for("PipeWire", &|| socket.exists(), 10)?;
        for program in ["wireplumber", "pipewire-pulse"] {
            pw.spawn(program, &[]);
        }
        let answers = || {
            pw.command("pactl")
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        wait_for("pipewire-pulse", &answers, 15)?;
        Ok(pw)
    }

    /// Adds the two null sinks.
    pub fn with_sinks(self) -> Self {
        for name in ["test_sink", "test_sink2"] {
            self.load_sink(name);
        }
        self
    }

    /// Creates the 48 kHz stereo null sink `name`.
    pub fn load_sink(&self, name: &str) {
        let ok = self
            .command("pactl")
            .args([
                "load-module",
                "module-null-sink",
                &format!("sink_name={name}"),
                &format!("sink_properties=device.description={name}"),
                "rate=48000",
                "channels=2",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "pactl could not create the null sink {name}");
    }

    /// Removes the null sink `name` (unloads its module), as if it were unplugged.
    pub fn unload_sink(&self, name: &str) {
        let out = self
            .command("pactl")
            .args(["list", "short", "modules"])
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        let module = list
            .lines()
            .find(|l| l.contains(&format!("sink_name={name} ")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no module for {name} in:\n{list}"));
        let ok = self
            .command("pactl")
            .args(["unload-module", module])
            .status()
            .unwrap();
        assert!(ok.success(), "pactl could not unload {name}");
    }

    /// Records what reaches `sink` for `ms` milliseconds into `wav`.
    pub fn record_for(&self, sink: &str, wav: &std::path::Path, ms: u64) {
        let mut rec = self.record(sink, wav);
        std::thread::sleep(Duration::from_millis(ms));
        finish_recording(&mut rec);
    }

    /// Records what the source `source` (a bus's virtual microphone) gives for `ms`
    /// milliseconds into `wav`, as an app recording from it would.
    pub fn record_source_for(&self, source: &str, wav: &std::path::Path, ms: u64) {
        let mut rec = self
            .command("pw-record")
            .args(["--target", source, "--rate", "48000", "--channels", "2"])
            .args(["--format", "f32", wav.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pw-record");
        std::thread::sleep(Duration::from_millis(ms));
        finish_recording(&mut rec);
    }

    /// Writes `session` into `dir` and runs `troubadour run` on it with the cpal backend
    /// at 1024-frame periods, for at most `seconds`; returns it and its output lines.
    pub fn troubadour(&self, dir: &Dir, session: &str, seconds: u32) -> (Child, Receiver<String>) {
        self.troubadour_on("cpal", dir, session, seconds)
    }

    /// The same on `backend`.
    pub fn troubadour_on(
        &self,
        backend: &str,
        dir: &Dir,
        session: &str,
        seconds: u32,
    ) -> (Child, Receiver<String>) {
        let path = dir.0.join("session.toml");
        std::fs::write(&path, session).unwrap();
        let mut child = self
            .command(env!("CARGO_BIN_EXE_troubadour"))
            .args(["run", path.to_str().unwrap(), "--backend", backend])
            // Tests run side by side: no control API or OSC port to fight over.
            .args(["--no-api", "--no-osc"])
            .args([
                "--latency-frames",
                "1024",
                "--seconds",
                &seconds.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run troubadour");
        let rx = lines(child.stdout.take().unwrap());
        (child, rx)
    }

    /// Starts recording what reaches `sink` into `wav`. (Without
    /// `stream.capture.sink`, a capture stream cannot link to a sink and pw-record
    /// silently records the default source instead: the default sink's monitor.)
    pub fn record(&self, sink: &str, wav: &std::path::Path) -> Child {
        self.command("pw-record")
            .args(["-P", "{ stream.capture.sink = true }"])
            .args(["--target", sink, "--rate", "48000", "--channels", "2"])
            .args(["--format", "f32", wav.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pw-record")
    }

    /// Makes a -12 dBFS 440 Hz stereo sine of `seconds` in `dir` with sox and plays it
    /// into `target` with `pw-play`.
    pub fn play_tone(&self, dir: &Dir, target: &str, seconds: u32) -> Child {
        let tone = dir.tone(seconds);
        self.command("pw-play")
            .args(["--target", target])
            .arg(&tone)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pw-play")
    }

    /// A command that talks to this PipeWire.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("XDG_RUNTIME_DIR", &self.runtime)
            // WirePlumber's saved state (default devices, each app's chosen device) of
            // this rig only: not the user's, and not carried from one test to the next.
            .env("XDG_STATE_HOME", self.runtime.join("state"))
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.runtime.join("bus").display()),
            )
            .env_remove("PULSE_SERVER")
            .env_remove("JACK_DEFAULT_SERVER");
        c
    }

    /// Stops PipeWire, WirePlumber and pipewire-pulse (the session bus stays) and starts
    /// them again, as a desktop session's restart of the sound server does.
    pub fn restart_server(&mut self) {
        for mut c in self.children.drain(1..).rev() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
        let socket = self.runtime.join("pipewire-0");
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(self.runtime.join("pipewire-0.lock"));
        self.spawn("pipewire", &[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "PipeWire did not come back");
            std::thread::sleep(Duration::from_millis(50));
        }
        for program in ["wireplumber", "pipewire-pulse"] {
            self.spawn(program, &[]);
        }
    }

    pub fn spawn(&mut self, program: &str, args: &[&str]) {
        let child = self
            .command(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program} ({e}): run scripts/test.sh, which installs PipeWire")
            });
        self.children.push(child);
    }
}

impl Drop for PipeWire {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Stops pw-record with SIGINT, which lets it finish the file, and waits for it.
pub fn finish_recording(rec: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &rec.id().to_string()])
        .status();
    let _ = rec.wait();
}

/// What a recording holds after its first 0.5 s (the recorder starting up): frames,
/// median RMS of 10 ms windows in dBFS, frequency from the median spacing of rising zero
/// crossings, and windows below -60 dBFS (dropped buffers). Medians, so that a dropped
/// buffer (this VM's non-real-time PipeWire can miss one) does not bend the figures.
pub fn measure(wav: &std::path::Path) -> (usize, f64, f64, usize) {
    let (spec, samples) = read_wav(wav);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 48_000);
    let left: Vec<f64> = samples.chunks_exact(2).map(|f| f[0]).skip(24_000).collect();
    assert!(
        left.len() > 24_000,
        "{}: only {} frames recorded after the first 0.5 s",
        wav.display(),
        left.len()
    );
    let mut windows: Vec<f64> = left
        .chunks_exact(480)
        .map(|w| 10.0 * (w.iter().map(|x| x * x).sum::<f64>() / 480.0).log10())
        .collect();
    let silent = windows.iter().filter(|&&db| db < -60.0).count();
    windows.sort_by(f64::total_cmp);
    let rms_db = windows[windows.len() / 2];
    let rises: Vec<usize> = left
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, _)| i)
        .collect();
    let mut spacing: Vec<usize> = rises.windows(2).map(|r| r[1] - r[0]).collect();
    spacing.sort_unstable();
    let freq = 48_000.0 / spacing[spacing.len() / 2] as f64;
    (left.len(), rms_db, freq, silent)
}
