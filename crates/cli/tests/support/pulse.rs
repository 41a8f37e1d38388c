//! A private PulseAudio server (the real `pulseaudio` daemon, not pipewire-pulse) in a
//! runtime directory of its own, for the cpal backend's virtual devices. Needs Debian's
//! pulseaudio and pulseaudio-utils (and sox), which `scripts/test.sh` installs.
//!
//! How it runs here (no sound card, as root, beside a system that may have PipeWire):
//! - `-n` skips the default script (no ALSA, udev or D-Bus modules); only the native
//!   protocol's Unix socket is loaded, in `$XDG_RUNTIME_DIR/pulse/native`;
//! - a private `XDG_RUNTIME_DIR` and `HOME` per test: its socket, cookie and state
//!   never meet the user's or pipewire-pulse's (both use `$XDG_RUNTIME_DIR/pulse`);
//! - as root it warns ("This program is not intended to be run as root") and runs:
//!   `--system` is not needed for a per-test server;
//! - `--exit-idle-time=-1`: it would otherwise exit 20 s after its last client left.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::{Dir, lines};

/// A private PulseAudio with one 48 kHz stereo null sink, `base` (the default sink: a
/// system's sound card in the tests); stopped on drop.
pub struct Pulse {
    pub runtime: PathBuf,
    server: Child,
}

impl Pulse {
    pub fn start(dir: &Dir) -> Self {
        let runtime = dir.0.join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let log = std::fs::File::create(dir.0.join("pulseaudio.log")).unwrap();
        let server = Self::env(Command::new("pulseaudio"), &runtime)
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .args(["--log-target=stderr", "-L", "module-native-protocol-unix"])
            .args([
                "-L",
                "module-null-sink sink_name=base rate=48000 channels=2",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start pulseaudio ({e}): run scripts/test.sh, which installs it")
            });
        let pulse = Pulse { runtime, server };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pulse.pactl(&["info"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not answer within 10 s (see {})",
                dir.0.join("pulseaudio.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pulse
    }

    fn env(mut c: Command, runtime: &std::path::Path) -> Command {
        c.env("XDG_RUNTIME_DIR", runtime)
            .env("HOME", runtime)
            .env_remove("PULSE_SERVER")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("JACK_DEFAULT_SERVER");
        c
    }

    /// A command that talks to this server.
    pub fn command(&self, program: &str) -> Command {
        Self::env(Command::new(program), &self.runtime)
    }

    /// `pactl ARGS`, its output.
    pub fn pactl(&self, args: &[&str]) -> std::process::Output {
        self.command("pactl")
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("pactl")
    }

    /// `pactl ARGS`, its standard output as text (asserting it succeeded).
    pub fn pactl_text(&self, args: &[&str]) -> String {
        let out = self.pactl(args);
        assert!(out.status.success(), "pactl {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes `session` into `dir` and runs `troubadour run` on it with the cpal backend
    /// at 1024-frame periods for at most `seconds`; returns it and its output lines.
    pub fn troubadour(&self, dir: &Dir, session: &str, seconds: u32) -> (Child, Receiver<String>) {
        let path = dir.0.join("session.toml");
        std::fs::write(&path, session).unwrap();
        let mut child = self
            .command(env!("CARGO_BIN_EXE_troubadour"))
            .args(["run", path.to_str().unwrap(), "--backend", "cpal"])
            .args(["--no-api", "--no-osc", "--seconds", &seconds.to_string()])
            // At 256-frame periods the timer-paced null sinks leave the clock bridges
            // short now and then (10-60 ms gaps, docs/DESKTOP.md "On PulseAudio"):
            // the tests check the path at a period that does not, until that is fixed.
            .args(["--latency-frames", "1024"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run troubadour");
        let rx = lines(child.stdout.take().unwrap());
        (child, rx)
    }

    /// Makes a -12 dBFS 440 Hz stereo float sine of `seconds` in `dir` with sox and
    /// plays it with `paplay` into `sink` (None: the default sink) as the application
    /// `app`.
    pub fn play_tone(&self, dir: &Dir, sink: Option<&str>, app: &str, seconds: u32) -> Child {
        let tone = dir.tone(seconds);
        let mut c = self.command("paplay");
        if let Some(sink) = sink {
            c.arg(format!("--device={sink}"));
        }
        c.arg(format!("--property=application.name={app}"))
            .arg(&tone)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("paplay")
    }

    /// Records the source `source` for `ms` milliseconds into `wav` (48 kHz stereo
    /// float), as an app recording from it would. Short buffers: the default ~2 s
    /// would be lost when the recorder is stopped.
    pub fn record_for(&self, source: &str, wav: &std::path::Path, ms: u64) {
        let mut rec = self
            .command("parecord")
            .args([&format!("--device={source}"), "--latency-msec=20"])
            .args(["--rate=48000", "--channels=2", "--format=float32le"])
            .args(["--file-format=wav"])
            .arg(wav)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("parecord");
        std::thread::sleep(Duration::from_millis(ms));
        let _ = Command::new("kill")
            .args(["-INT", &rec.id().to_string()])
            .status();
        let _ = rec.wait();
    }

    /// The loaded modules whose argument names a `troubadour.` device: (index, argument).
    pub fn troubadour_modules(&self) -> Vec<(u32, String)> {
        self.pactl_text(&["list", "short", "modules"])
            .lines()
            .filter(|l| l.contains("_name=troubadour."))
            .filter_map(|l| {
                let mut f = l.splitn(3, '\t');
                let index = f.next()?.parse().ok()?;
                let _module = f.next()?;
                Some((index, f.next().unwrap_or_default().to_string()))
            })
            .collect()
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.server.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.server.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
