//! What the process costs in memory, read from `/proc/self/status` (Linux): our own
//! (anonymous) memory told apart from the audio server's shared segments (a JACK
//! server maps about 100 MB into every client) and from mapped files (the binary and
//! its libraries, shared with every other process that maps them).

/// Resident memory at one reading, in MB.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Resident {
    /// Everything resident.
    pub total_mb: f64,
    /// Our own: heap, stacks, buffers.
    pub anon_mb: f64,
    /// Mapped files.
    pub file_mb: f64,
    /// Shared memory (an audio server's segments).
    pub shared_mb: f64,
}

impl Resident {
    /// Reads the process's resident memory now (`None` where /proc is not there).
    pub fn now() -> Option<Resident> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        Self::parse(&status)
    }

    fn parse(status: &str) -> Option<Resident> {
        let mb = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        Some(Resident {
            total_mb: mb("VmRSS:")?,
            anon_mb: mb("RssAnon:")?,
            file_mb: mb("RssFile:")?,
            shared_mb: mb("RssShmem:")?,
        })
    }
}

impl std::fmt::Display for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resident memory while running {:.1} MB: ours {:.1} MB, the audio server's shared segments {:.1} MB, mapped files (binary, libraries) {:.1} MB",
            self.total_mb, self.anon_mb, self.shared_mb, self.file_mb
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_are_read_apart() {
        let status = "Name:\ttroubadour\nVmRSS:\t  116736 kB\nRssAnon:\t    1024 kB\nRssFile:\t    8192 kB\nRssShmem:\t  107520 kB\n";
        let r = Resident::parse(status).unwrap();
        assert_eq!(
            (r.total_mb, r.anon_mb, r.file_mb, r.shared_mb),
            (114.0, 1.0, 8.0, 105.0)
        );
        assert!(
            r.to_string()
                .contains("ours 1.0 MB, the audio server's shared segments 105.0 MB")
        );
    }

    #[test]
    fn this_process_has_a_reading() {
        let r = Resident::now().unwrap();
        assert!(r.total_mb > 0.0 && r.anon_mb > 0.0, "{r:?}");
    }
}
