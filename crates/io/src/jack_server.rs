//! Whose JACK server answers: a real JACK server (jackd, jackdbus), or PipeWire's JACK
//! interface (`pw-jack`, or pipewire-jack installed as the system's libjack).
//!
//! PipeWire's JACK is not a server of its own: it is a libjack that speaks PipeWire's
//! protocol, so a client "connected to JACK" through it is a PipeWire node driven
//! through a compatibility layer (an extra thread hop per cycle, no virtual devices of
//! our own). `auto` therefore prefers the native PipeWire backend over it. The reliable
//! sign is the library itself: PipeWire installs its libjack in its own directory
//! (`…/pipewire-0.3/jack/libjack.so.0`, which `pw-jack` puts first on
//! `LD_LIBRARY_PATH` and Debian's `pipewire-jack` can register with ld.so), and the
//! JACK client only connects through the libjack this process has mapped. So the path
//! of the mapped libjack, from `/proc/self/maps`, tells, after a client opened.

/// The path of the libjack this process has loaded, if it is PipeWire's.
pub fn pipewire_libjack() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    pipewire_libjack_in(&maps)
}

/// [`pipewire_libjack`] over the text of a `/proc/PID/maps`.
pub fn pipewire_libjack_in(maps: &str) -> Option<String> {
    maps.lines()
        // The path is the sixth field (absent for anonymous mappings).
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            let file = path.rsplit('/').next().unwrap_or(path);
            file.starts_with("libjack.so") && path.contains("/pipewire")
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipewires_libjack_is_told_from_jacks_own() {
        let jack = "7f2a1000-7f2a2000 r-xp 00001000 08:01 123 /usr/lib/x86_64-linux-gnu/libjack.so.0.1.0\n";
        let pw = "7f3b0000-7f3b1000 r-xp 00002000 08:01 456 /usr/lib/x86_64-linux-gnu/pipewire-0.3/jack/libjack.so.0.365.0\n";
        let other = "7f3c0000-7f3c1000 r--p 00000000 08:01 789 /usr/lib/x86_64-linux-gnu/libpipewire-0.3.so.0.365.0\n\
                     7f3d0000-7f3d1000 rw-p 00000000 00:00 0 \n";
        assert_eq!(pipewire_libjack_in(jack), None);
        assert_eq!(pipewire_libjack_in(other), None);
        assert_eq!(
            pipewire_libjack_in(&format!("{other}{pw}")).as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack/libjack.so.0.365.0")
        );
    }

    #[test]
    fn this_process_maps_are_readable() {
        // The unit test binary loads no PipeWire libjack.
        assert!(std::fs::read_to_string("/proc/self/maps").is_ok());
        assert_eq!(pipewire_libjack(), None);
    }
}
