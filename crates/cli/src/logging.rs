//! Logging of the control side with `tracing`: `--log-level` (or `RUST_LOG`, which
//! takes filter directives like `troubadour_control=debug`) and `--log-format json`.
//! Logs go to stderr; the audio thread never logs (it counts, and the control side
//! reports what it counted).

use tracing_subscriber::EnvFilter;

/// The logging flags of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Least severe messages logged: error, warn, info, debug or trace (default: warn;
    /// `RUST_LOG` overrides it with filter directives).
    #[arg(long, value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,
    /// `text` for people, `json` (one object per line) for log collectors.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Installs the subscriber.
pub fn init(args: &LogArgs) -> Result<(), String> {
    let filter = match (&args.log_level, std::env::var("RUST_LOG")) {
        (Some(level), _) => EnvFilter::new(level),
        (None, Ok(directives)) => {
            EnvFilter::try_new(&directives).map_err(|e| format!("RUST_LOG={directives:?}: {e}"))?
        }
        (None, Err(_)) => EnvFilter::new("warn"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if args.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| format!("cannot set up logging: {e}"))
}
