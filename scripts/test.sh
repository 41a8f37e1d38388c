#!/usr/bin/env bash
# Every check the project has, on a fresh machine: installs what the tests need
# (Debian packages), then format, lints, unit/integration/doc tests (the DSP ones twice:
# with and without AVX-512), the release-mode ring-buffer stress test, the loom model
# checks, short engine stress tests (null backend and JACK), one quick pass of every
# benchmark, and the browser console's checks and tests (Node.js and Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt.sh

# Each step's header says how long the one before took (what to trim when CI grows).
started=$SECONDS
last=$SECONDS
step() {
    echo "   (took $((SECONDS - last)) s; $((SECONDS - started)) s in all)"
    last=$SECONDS
    echo "== $*"
}

# sox checks rendered files from outside the project; libsoxr is the reference
# resampler the resampling benchmark compares against (linked through pkg-config).
missing=()
command -v sox >/dev/null 2>&1 || missing+=(sox)
# libFLAC's own checker (`flac -t`) for FLAC takes, and the encoder their benchmark
# compares ours with.
command -v flac >/dev/null 2>&1 || missing+=(flac)
# The file-player tests make MP3 sources with sox, which needs its MP3 handler.
sox -h 2>/dev/null | grep 'FILE FORMATS' | grep -qw mp3 || missing+=(libsox-fmt-mp3)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists soxr 2>/dev/null || missing+=(libsoxr-dev)
# A real JACK server (dummy driver) and its peer programs for the end-to-end tests
# (jackd, jack_simple_client, jack_rec, jack_iodelay, jack_lsp, jack_connect).
command -v jackd >/dev/null 2>&1 && command -v jack_rec >/dev/null 2>&1 || missing+=(jackd2)
# The `jack` crate loads libjack at run time, but its build script (jack-sys) still asks
# pkg-config for `jack` on Linux and fails without the development package.
pkg-config --exists jack 2>/dev/null || missing+=(libjack-jackd2-dev)
# The cpal backend (built by default): ALSA's headers to build; and a private PipeWire
# (with its Pulse interface, a session bus and pw-record) for its end-to-end test.
pkg-config --exists alsa 2>/dev/null || missing+=(libasound2-dev)
command -v pipewire >/dev/null 2>&1 || missing+=(pipewire)
command -v pw-record >/dev/null 2>&1 || missing+=(pipewire-bin)
command -v pipewire-pulse >/dev/null 2>&1 || missing+=(pipewire-pulse)
command -v wireplumber >/dev/null 2>&1 || missing+=(wireplumber)
command -v pactl >/dev/null 2>&1 || missing+=(pulseaudio-utils)
# A private PulseAudio daemon (beside PipeWire's Pulse interface) for the virtual
# devices on PulseAudio: crates/cli/tests/pulse_virtual.rs.
command -v pulseaudio >/dev/null 2>&1 || missing+=(pulseaudio)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus dbus-bin)
# PipeWire's JACK interface (pw-jack and its libjack): `auto`'s choice and the latency
# test (jack_iodelay under pw-jack) in tests/pipewire_latency.rs.
command -v pw-jack >/dev/null 2>&1 || missing+=(pipewire-jack)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# `systemd-analyze verify` checks the user unit shipped in contrib/.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The native PipeWire backend (built by default): libpipewire's headers, and clang with
# libclang for the bindings the `pipewire` crate generates at build time.
pkg-config --exists libpipewire-0.3 2>/dev/null || missing+=(libpipewire-0.3-dev)
command -v clang >/dev/null 2>&1 || missing+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || missing+=(libclang-dev)
apt_install "${missing[@]}"
# Real clients of the control API that are not ours: Python's `websockets`,
# `python-osc` for the OSC surface, `python-rtmidi` (its JACK backend) for the MIDI
# surface.
if ! python3 -c "import websockets, pythonosc, rtmidi" >/dev/null 2>&1; then
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    echo "== pip install websockets python-osc python-rtmidi"
    python3 -m pip install --quiet --disable-pip-version-check websockets python-osc python-rtmidi \
        || python3 -m pip install --quiet --break-system-packages websockets python-osc python-rtmidi
fi

step "cargo fmt"
cargo fmt --all -- --check
step "cargo clippy (default features, with the cpal backend; then without it)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --no-default-features -- -D warnings
step "cargo test (with the cpal backend and its PipeWire test)"
cargo test --workspace
step "the DSP tests again with AVX-512 switched off (its AVX2 kernels run on AVX2-only CPUs)"
# The workspace's build of them, run again: `cargo test -p troubadour-dsp` would resolve
# the crate's dependencies' features apart from the workspace's and rebuild 25 crates.
dsp_tests=$(cargo test --workspace --no-run --message-format=json | python3 scripts/test-exes.py troubadour-dsp)
[ -n "$dsp_tests" ] || { echo "no test executables of troubadour-dsp found"; exit 1; }
while read -r dir exe; do
    (cd "$dir" && TROUBADOUR_NO_AVX512=1 "$exe" -q)
done <<< "$dsp_tests"
step "ring buffer stress test, release (10^8 items)"
cargo test --release -p troubadour-rt --test stress_ring
step "loom model checks"
RUSTFLAGS="--cfg loom" cargo test --release -p troubadour-rt --test loom --target-dir target/loom
step "stress tests, 10 s each, null backend and a private JACK server (the full run: cargo test --release --test stress --test stress_jack -- --ignored)"
# `--workspace` (not `-p troubadour`) to reuse the build of `cargo test --workspace`.
TROUBADOUR_STRESS_SECS=10 cargo test --workspace --test stress -- --ignored
TROUBADOUR_STRESS_SECS=10 cargo test --workspace --test stress_jack -- --ignored
step "benchmarks, one quick pass each (they must keep compiling and running)"
RING_BENCH_ITEMS=1000000 cargo test --workspace --benches
step "the browser console: type check and lint of its modules, then its tests in headless Chromium against a real mixer"
# Debian's Chromium, driven by playwright-core (which brings no browser of its own); the
# checks and the test driver come from npm, pinned by crates/control/web/package-lock.json.
command -v chromium >/dev/null 2>&1 || apt_install chromium
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
cargo build -p troubadour
(
    cd crates/control/web
    npm ci --no-audit --no-fund
    npx tsc -p jsconfig.json        # the page's modules (browser)
    npx tsc -p jsconfig.test.json   # the tests (Node.js)
    npx eslint .
    WEB_ARTIFACTS="$PWD/../../../target/web-artifacts" node --test --test-concurrency=1 test/*.test.js
)
echo "screenshots in target/web-artifacts/"
step "done"
