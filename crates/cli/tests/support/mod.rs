//! Shared harness of the JACK end-to-end tests: a private jackd per test, peer
//! programs, and `troubadour run` as a child process.
#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A private jackd; killed (and waited for) on drop.
pub struct Server {
    /// One server at a time in a test binary: a second jackd started beside a running
    /// one was seen never to answer on the CI machine.
    alone: Option<std::sync::MutexGuard<'static, ()>>,
    pub name: String,
    /// Started with `-R`: its driver thread runs SCHED_FIFO.
    pub realtime: bool,
    jackd: Child,
    peers: Vec<Child>,
    /// Which of `peers` is the `troubadour run` started last.
    troubadour: Option<usize>,
}

impl Server {
    /// A server whose threads run at normal priority.
    pub fn start(tag: &str) -> Self {
        Self::start_with(tag, false)
    }

    /// A real-time server (`jackd -R`) where this process may use SCHED_FIFO, else a
    /// normal one (see [`Server::realtime`]). The dummy driver's clock is a timer its
    /// thread sleeps on: at normal priority any busy process can make it wake late, and
    /// a wake-up late by a period is an xrun.
    pub fn start_realtime(tag: &str) -> Self {
        Self::start_with(tag, realtime_permitted())
    }

    fn start_with(tag: &str, realtime: bool) -> Self {
        // jackd2 servers starting at the same moment can trip over each other's shared
        // memory registry (seen here: one of two never answers), so start one at a time,
        // and give a server that does not come up a second chance.
        static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let mut alone = Some(ALONE.lock().unwrap_or_else(|e| e.into_inner()));
        clear_stale_shm();
        let name = format!("troubadour-{tag}-{}", std::process::id());
        for attempt in 1..=3 {
            let jackd = spawn_jackd(&name, realtime);
            let server = Server {
                alone: alone.take(),
                name: name.clone(),
                realtime,
                jackd,
                peers: Vec::new(),
                troubadour: None,
            };
            if server.answers() {
                return server;
            }
            eprintln!("jackd {name} did not come up (attempt {attempt})");
            let mut server = server;
            alone = server.alone.take();
            drop(server);
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("jackd {name} did not come up in 3 attempts");
    }

    /// Waits up to 10 s for the server to answer.
    fn answers(&self) -> bool {
        self.command("jack_wait")
            .args(["-w", "-t", "10"])
            .stdout(Stdio::null())
            .status()
            .expect("jack_wait")
            .success()
    }

    /// Kills jackd outright, as a crash would, and starts a new one under the same name.
    /// Peer programs die with their server; `troubadour` is expected to survive.
    pub fn crash_and_restart(&mut self) {
        let _ = self.jackd.kill();
        let _ = self.jackd.wait();
        // Peers exit when their server goes; reap them so they are not signalled later.
        std::thread::sleep(Duration::from_millis(300));
        clear_stale_shm();
        for attempt in 1..=3 {
            self.jackd = spawn_jackd(&self.name, self.realtime);
            if self.answers() {
                return;
            }
            eprintln!("jackd {} did not come back (attempt {attempt})", self.name);
            let _ = self.jackd.kill();
            let _ = self.jackd.wait();
            clear_stale_shm();
        }
        panic!("jackd {} did not come back in 3 attempts", self.name);
    }

    /// A command talking to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("JACK_DEFAULT_SERVER", &self.name);
        c
    }

    /// Starts a peer program that lives until the server is dropped.
    pub fn peer(&mut self, program: &str, args: &[&str]) {
        let child = self
            .command(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.peers.push(child);
    }

    /// Every port name the server lists.
    pub fn ports(&self) -> Vec<String> {
        let out = self.command("jack_lsp").output().expect("jack_lsp");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The ports `port` is connected to (from `jack_lsp -c`).
    pub fn connections(&self, port: &str) -> Vec<String> {
        let out = self
            .command("jack_lsp")
            .arg("-c")
            .output()
            .expect("jack_lsp");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut found = Vec::new();
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with(char::is_whitespace) {
                if inside {
                    found.push(line.trim().to_string());
                }
            } else {
                inside = line == port;
            }
        }
        found
    }

    pub fn wait_for_port(&self, port: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ports().iter().any(|p| p == port) {
            assert!(Instant::now() < deadline, "port {port} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn connect(&self, from: &str, to: &str, on: bool) {
        let program = if on {
            "jack_connect"
        } else {
            "jack_disconnect"
        };
        let ok = self.command(program).args([from, to]).status().unwrap();
        assert!(ok.success(), "{program} {from} {to}");
    }

    /// `troubadour run SESSION --backend jack`, its stdout lines sent to the receiver.
    pub fn troubadour(&mut self, session: &str) -> mpsc::Receiver<String> {
        self.troubadour_with(session, &[])
    }

    /// [`troubadour`](Self::troubadour) with more arguments.
    pub fn troubadour_with(&mut self, session: &str, extra: &[&str]) -> mpsc::Receiver<String> {
        self.troubadour_env(session, extra, &[])
    }

    /// [`troubadour_with`](Self::troubadour_with) with environment variables (test
    /// hooks).
    pub fn troubadour_env(
        &mut self,
        session: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> mpsc::Receiver<String> {
        self.troubadour_on("jack", session, extra, env)
    }

    /// [`troubadour_env`](Self::troubadour_env) on another audio backend (still with
    /// this server in its environment, for MIDI).
    pub fn troubadour_on(
        &mut self,
        backend: &str,
        session: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> mpsc::Receiver<String> {
        let mut child = self
            .command(env!("CARGO_BIN_EXE_troubadour"))
            .args(["run", session, "--backend", backend])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run troubadour");
        let rx = lines(child.stdout.take().unwrap());
        self.troubadour = Some(self.peers.len());
        self.peers.push(child);
        rx
    }

    /// Kills the `troubadour run` started last with SIGKILL (a crash) and waits for it.
    pub fn kill9_troubadour(&mut self) {
        let child = &mut self.peers[self.troubadour.expect("a troubadour run")];
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the `troubadour run` started last (SIGTERM, as Ctrl-C would) and returns
    /// its closing line, which `rx`, its output, carries.
    pub fn stop_troubadour(
        &mut self,
        rx: &mpsc::Receiver<String>,
        seen: &mut Vec<String>,
    ) -> String {
        let child = &mut self.peers[self.troubadour.expect("a troubadour run")];
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(child.wait().unwrap().success());
        expect_line(rx, "stopped after", seen);
        seen.last().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for p in &mut self.peers {
            // SIGTERM first so troubadour shuts down cleanly, then make sure.
            let _ = Command::new("kill").arg(p.id().to_string()).status();
        }
        for p in &mut self.peers {
            let deadline = Instant::now() + Duration::from_secs(3);
            while p.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.kill();
            let _ = p.wait();
        }
        // SIGTERM lets jackd remove its shared memory; SIGKILL only if it hangs.
        let _ = Command::new("kill")
            .arg(self.jackd.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.jackd.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.jackd.kill();
        let _ = self.jackd.wait();
    }
}

/// A jackd with the dummy driver (no sound card here), 48 kHz, 1024-frame periods.
fn spawn_jackd(name: &str, realtime: bool) -> Child {
    Command::new("jackd")
        .args([
            "-n",
            name,
            if realtime { "-R" } else { "--no-realtime" },
            "-d",
            "dummy",
            "-r",
            "48000",
            "-p",
            "1024",
        ])
        .args(["-C", "2", "-P", "2"])
        .env("JACK_NO_AUDIO_RESERVATION", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("jackd is not installed: run scripts/test.sh, which installs jackd2")
}

/// A jackd that died uncleanly leaves files in /dev/shm that make the next one exit
/// silently. With no jackd running, none of them is in use: clear them.
fn clear_stale_shm() {
    let running = Command::new("pgrep").args(["-x", "jackd"]).output();
    if running.is_ok_and(|o| !o.status.success()) {
        for entry in std::fs::read_dir("/dev/shm")
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with("jack") {
                let _ = std::fs::remove_file(entry.path())
                    .or_else(|_| std::fs::remove_dir_all(entry.path()));
            }
        }
    }
}

/// A program's output, line by line, as it comes (read on a thread of its own, so the
/// program never blocks on a full pipe).
pub fn lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub struct Dir(pub PathBuf);

impl Dir {
    /// A fresh directory for one test (`tag`) of this test binary.
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("troubadour-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    /// The path of `name` in it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A new stereo 440 Hz sine at −12 dBFS, `seconds` long, 48 kHz float, made by sox.
    /// A file per call: a player started earlier may still be reading the last one.
    pub fn tone(&self, seconds: u32) -> PathBuf {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tone = self.path(&format!("tone{n}.wav"));
        let made = Command::new("sox")
            .args([
                "-n",
                "-r",
                "48000",
                "-c",
                "2",
                "-b",
                "32",
                "-e",
                "floating-point",
            ])
            .arg(&tone)
            .args(["synth", &seconds.to_string(), "sine", "440", "vol", "-12dB"])
            .status()
            .expect("sox (scripts/test.sh installs it)");
        assert!(made.success());
        tone
    }

    /// Writes `text` to `name` in it; returns the path as a string (for arguments).
    pub fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name).display().to_string()
    }
}

/// `troubadour ARGS`, run to completion.
pub fn troubadour(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(args)
        .output()
        .expect("run troubadour")
}

/// What a run printed, stdout then stderr.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lines received until one contains `needle` (or the timeout).
pub fn expect_line(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return;
            }
        }
    }
    panic!(
        "troubadour never said \"{needle}\"; it said:\n{}",
        seen.join("\n")
    );
}

/// A WAV file's samples as f64 in -1..1, interleaved, with its spec (float or integer
/// files alike).
pub fn read_wav(path: &std::path::Path) -> (hound::WavSpec, Vec<f64>) {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = reader.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| f64::from(s.unwrap()))
            .collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| f64::from(s.unwrap()) * scale)
                .collect()
        }
    };
    (spec, samples)
}

/// Whether a thread of this process may switch itself to SCHED_FIFO (root, or an rtprio
/// limit): asked on a short-lived thread, so no thread of the caller changes policy.
pub fn realtime_permitted() -> bool {
    std::thread::spawn(|| set_fifo(1)).join().unwrap_or(false)
}

/// Switches the calling thread to SCHED_FIFO at `priority`; whether that was granted.
fn set_fifo(priority: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `pthread_self()` is the calling thread, always valid; `param` is a valid,
    // initialised sched_param that outlives the call.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
}

/// Watches for the machine itself stopping (a virtual machine's CPUs descheduled by its
/// host): a SCHED_FIFO thread above every audio thread wakes each millisecond and counts
/// the wake-ups that came later than a threshold. Nothing on the machine can hold it
/// back that long, so a late wake-up means nothing on the machine ran.
pub struct StallWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Stalls>,
}

/// What a [`StallWatch`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Stalls {
    /// Wake-ups later than the threshold.
    pub count: u32,
    /// The latest wake-up.
    pub longest: Duration,
    /// Whether the watching thread ran SCHED_FIFO (if not, its counts include ordinary
    /// scheduling delays).
    pub realtime: bool,
}

impl StallWatch {
    pub fn start(threshold: Duration) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let realtime = set_fifo(90);
            let mut stalls = Stalls {
                count: 0,
                longest: Duration::ZERO,
                realtime,
            };
            let tick = Duration::from_millis(1);
            while !flag.load(Ordering::Relaxed) {
                let before = Instant::now();
                std::thread::sleep(tick);
                let late = before.elapsed().saturating_sub(tick);
                stalls.longest = stalls.longest.max(late);
                if late > threshold {
                    stalls.count += 1;
                }
            }
            stalls
        });
        StallWatch { stop, thread }
    }

    pub fn finish(self) -> Stalls {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("stall watch")
    }
}

pub mod api;
pub mod pipewire;
pub mod pulse;

/// The API's address from `troubadour run`'s line "control API on http://ADDR/…",
/// waited for in `out` (what came before it goes to `seen`).
pub fn api_addr(out: &mpsc::Receiver<String>, seen: &mut Vec<String>) -> std::net::SocketAddr {
    expect_line(out, "control API on http://", seen);
    seen.last()
        .unwrap()
        .strip_prefix("control API on http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts that the syscall guard ran in this process and that a backend's callbacks
/// made no system call (`calls`: its `syscall_violations`).
pub fn assert_no_syscalls(calls: u64) {
    use troubadour_rt::syscall_guard;
    assert!(syscall_guard::armed_threads() > 0, "the guard never ran");
    assert_eq!(
        calls,
        0,
        "system calls inside callbacks (the last: {:?})",
        syscall_guard::last_syscall().map(|nr| (nr, syscall_guard::syscall_name(nr)))
    );
}
