//! The systemd user unit shipped in `contrib/troubadour.service`:
//! - `systemd-analyze verify` finds nothing to say about it (no unknown key, no bad
//!   value: a typo there is silently ignored by systemd at the user's end);
//! - its `ExecStart`, run as systemd would (`%h` the home folder, a session in
//!   `~/.config/troubadour/session.toml`) on a private PipeWire, makes the session's
//!   virtual device, and a stop (SIGTERM, what `systemctl --user stop` sends) ends it
//!   with exit status 0 and the device gone.
#![cfg(feature = "pipewire")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::Dir;
use support::pipewire::PipeWire;

fn unit_text() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/troubadour.service"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The unit's `ExecStart`, its binary ours (the unit names `~/.cargo/bin/troubadour`,
/// where `cargo install` puts it) and `%h` the folder `home`.
fn exec_start(unit: &str, home: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.replace("%h", home))
        .collect();
    assert!(
        words[0].ends_with("/.cargo/bin/troubadour"),
        "ExecStart runs {}",
        words[0]
    );
    words[0] = env!("CARGO_BIN_EXE_troubadour").to_string();
    words
}

#[test]
fn systemd_finds_nothing_wrong_with_the_unit() {
    let dir = Dir::new("unit-verify");
    let unit = unit_text().replace("%h/.cargo/bin/troubadour", env!("CARGO_BIN_EXE_troubadour"));
    let path = dir.write("troubadour.service", &unit);
    let out = Command::new("systemd-analyze")
        .args(["verify", &path])
        .output()
        .expect("systemd-analyze (scripts/test.sh installs systemd)");
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

/// The names of the Pulse sinks `pactl` lists.
fn sinks(pw: &PipeWire) -> Vec<String> {
    let out = pw
        .command("pactl")
        .args(["list", "short", "sinks"])
        .output()
        .expect("pactl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(1).map(str::to_string))
        .collect()
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < end, "{what} within {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_units_command_runs_the_users_session_and_a_stop_ends_it_cleanly() {
    let dir = Dir::new("unit-run");
    let pw = PipeWire::start(&dir);
    let home = dir.path("home");
    let config = home.join(".config/troubadour");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("session.toml"),
        "version = 1\n[[strip]]\nname = \"Desk\"\nchannels = 2\nsource = { virtual = \"Desk\" }\n\
         sends = { Out = {} }\n[[bus]]\nname = \"Out\"\nchannels = 2\n",
    )
    .unwrap();
    let words = exec_start(&unit_text(), home.to_str().unwrap());
    let mut child = pw
        .command(&words[0])
        .args(&words[1..])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        // Other tests run side by side: the unit's default ports may be taken, which
        // the mixer only warns about; keep its output out of the way.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the unit's ExecStart");
    wait_until("troubadour.desk appears", 15, || {
        sinks(&pw).iter().any(|s| s == "troubadour.desk")
    });

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < end,
            "troubadour did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "exit {status} after SIGTERM: {err}");
    wait_until("troubadour.desk is gone", 3, || {
        !sinks(&pw).iter().any(|s| s.starts_with("troubadour."))
    });
}
