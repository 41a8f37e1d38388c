//! One option, one rule, one message, one exit code, whichever command takes it.

use std::process::{Command, Output};

fn troubadour(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(args)
        .output()
        .expect("run troubadour")
}

#[test]
fn seconds_is_checked_alike_by_run_render_and_bench() {
    let commands: [&[&str]; 3] = [&["run"], &["render", "s.toml"], &["bench"]];
    for value in ["nan", "-1", "0", "inf", "1e8"] {
        for cmd in commands {
            let mut args = cmd.to_vec();
            args.extend(["--seconds", value]);
            let o = troubadour(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(&format!(
                    "{value:?} is not a length in seconds: give a number above 0 and at most 10000000"
                )),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn latency_frames_takes_the_range_of_block_frames() {
    for value in ["1", "7", "15", "8193"] {
        let o = troubadour(&["run", "--latency-frames", value]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.contains("is not a period in frames: give a whole number in 16..=8192"),
            "{value}: {err}"
        );
    }
}
