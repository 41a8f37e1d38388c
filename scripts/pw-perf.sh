#!/usr/bin/env bash
# The PipeWire backend's cost, measured from outside (issue 19): on a private PipeWire +
# WirePlumber (no sound card: the graph is driven by PipeWire's dummy driver), the
# standard workload (8 stereo strips of pink noise with gate + 4-band EQ + compressor,
# each sent to 4 stereo buses with EQ + compressor + limiter: crates/engine/src/
# workload.rs, written out as a session here) runs as `troubadour run`
#   - on the native PipeWire backend (--backend pipewire), and
#   - on the JACK backend through PipeWire's JACK (pw-jack),
# at quanta 64, 256 and 1024 forced with `pw-metadata -n settings 0 clock.force-quantum`,
# interleaved (each round runs every case once, in turn). For each: the mean DSP load and
# the mean busy time per cycle the backend's own counters give (/metrics, over
# SECONDS), and start → first audio callback as troubadour prints it (ms, including
# the filter node and its ports). Then `troubadour bench` (offline, same workload,
# 256-frame blocks) for the engine's own figure: busy(live) − busy(offline, per cycle
# of that length) is what the backend adds per cycle.
#   scripts/pw-perf.sh [BINARY]          (ROUNDS=3, SECONDS=8, QUANTA="64 256 1024")
# Speed is reported, never asserted. Do not build meanwhile if you want clean figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/troubadour}")
rounds=${ROUNDS:-3}
secs=${SECONDS_EACH:-${SECONDS:-8}}
quanta=${QUANTA:-64 256 1024}
work=$(mktemp -d /tmp/pw-perf.XXXXXX)
rt=$work/rt
mkdir -m 700 "$rt"
export XDG_RUNTIME_DIR=$rt DBUS_SESSION_BUS_ADDRESS=unix:path=$rt/bus
unset PULSE_SERVER JACK_DEFAULT_SERVER
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
dbus-daemon --session --nofork --nopidfile --address="$DBUS_SESSION_BUS_ADDRESS" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$rt/bus" ] && break; sleep 0.05; done
pipewire >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S "$rt/pipewire-0" ] && break; sleep 0.05; done
wireplumber >/dev/null 2>&1 &
pids+=($!)
sleep 1
jackdir=$(ls -d /usr/lib/*/pipewire-0.3/jack | head -1)

# The standard workload as a session file.
session=$work/standard.toml
{
    echo 'version = 1'
    for b in 0 1 2 3; do
        printf '\n[[bus]]\nname = "B%d"\nchannels = 2\nfader_db = -3.0\n' "$b"
        printf '%s\n' 'eq = [{ kind = "highpass", freq = 80.0, q = 1.0 }, { kind = "lowshelf", freq = 200.0, q = 1.0, gain_db = 2.0 }, { kind = "peak", freq = 3000.0, q = 1.0, gain_db = -3.0 }, { kind = "highshelf", freq = 10000.0, q = 1.0, gain_db = 1.5 }]'
        printf '%s\n' 'compressor = { threshold_db = -24.0, ratio = 3.0, attack_ms = 5.0, release_ms = 120.0, knee_db = 6.0, detector = "rms", rms_ms = 10.0 }'
        printf '%s\n' 'limiter = { ceiling_db = -1.0, lookahead_ms = 1.5, release_ms = 80.0 }'
    done
    for s in 0 1 2 3 4 5 6 7; do
        printf '\n[[strip]]\nname = "S%d"\nchannels = 2\nfader_db = -6.0\npan = 0.1\n' "$s"
        printf 'source = { generator = "pink", level_db = -18.0, seed = %d }\n' $((s + 1))
        printf '%s\n' 'gate = { open_db = -50.0, close_db = -60.0, attack_ms = 1.0, hold_ms = 50.0, release_ms = 100.0, range_db = -60.0 }'
        printf '%s\n' 'eq = [{ kind = "highpass", freq = 80.0, q = 1.0 }, { kind = "lowshelf", freq = 200.0, q = 1.0, gain_db = 2.0 }, { kind = "peak", freq = 3000.0, q = 1.0, gain_db = -3.0 }, { kind = "highshelf", freq = 10000.0, q = 1.0, gain_db = 1.5 }]'
        printf '%s\n' 'compressor = { threshold_db = -24.0, ratio = 3.0, attack_ms = 5.0, release_ms = 120.0, knee_db = 6.0, detector = "rms", rms_ms = 10.0 }'
        printf 'sends = { B0 = {}, B1 = { level_db = -1.0 }, B2 = { level_db = -2.0 }, B3 = { level_db = -3.0 } }\n'
    done
} >"$session"
"$bin" check "$session" >/dev/null

metric() { awk -v n="troubadour_$2" '$1 == n { print $2 }' <<<"$1"; }

# One case: backend (pipewire | jack), quantum. Prints quantum, backend, load %, busy µs
# per cycle, first-audio ms.
run_case() {
    local backend=$1 q=$2 out=$work/out.txt env=()
    pw-metadata -n settings 0 clock.force-quantum "$q" >/dev/null
    [ "$backend" = jack ] && env=(LD_LIBRARY_PATH="$jackdir")
    env "${env[@]}" "$bin" run "$session" --backend "$backend" --listen 127.0.0.1:0 \
        --no-osc --no-midi --seconds $((secs + 20)) >"$out" 2>&1 &
    local pid=$!
    local addr=""
    for _ in $(seq 100); do
        addr=$(sed -n 's|^control API on http://\([^/]*\)/.*|\1|p' "$out")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    sleep 2
    local a b
    a=$(curl -s "http://$addr/metrics")
    sleep "$secs"
    b=$(curl -s "http://$addr/metrics")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local first period
    first=$(sed -n 's/^first audio callback \([0-9]*\) ms after start.*/\1/p' "$out")
    period=$(sed -n 's/^running at [0-9]* Hz, period \([0-9]*\) frames.*/\1/p' "$out")
    awk -v q="$q" -v be="$backend" -v first="${first:-?}" -v period="$period" \
        -v c0="$(metric "$a" callbacks_total)" -v c1="$(metric "$b" callbacks_total)" \
        -v l0="$(metric "$a" late_callbacks_total)" -v l1="$(metric "$b" late_callbacks_total)" \
        -v x0="$(metric "$a" server_xruns_total)" -v x1="$(metric "$b" server_xruns_total)" \
        -v b0="$(metric "$a" callback_busy_seconds_total)" -v b1="$(metric "$b" callback_busy_seconds_total)" \
        -v p0="$(metric "$a" callback_period_seconds_total)" -v p1="$(metric "$b" callback_period_seconds_total)" \
        'BEGIN { n = c1 - c0; m = (b1 - b0) / (p1 - p0); per = 1e6 * (p1 - p0) / n;
                 printf "quantum %5d  %-8s  period %5s  callbacks %6d  load %6.2f %%  busy %7.1f us/cycle  late %d  xruns %d  first audio %s ms\n",
                        q, be, period, n, 100 * m, m * per, l1 - l0, x1 - x0, first }'
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    echo "round $r (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for q in $quanta; do
        for be in pipewire jack; do run_case "$be" "$q"; done
    done
done
# Start → first audio with devices to make: 2 strips on virtual playback devices and 2
# buses on virtual microphones (4 adapter nodes made and linked before the first cycle).
virtual=$work/virtual.toml
cat >"$virtual" <<'TOML'
version = 1
[[strip]]
name = "Browser"
channels = 2
source = { virtual = "Browser" }
sends = { Stream = {}, Chat = {} }
[[strip]]
name = "Game"
channels = 2
source = { virtual = "Game" }
sends = { Stream = {}, Chat = {} }
[[bus]]
name = "Stream"
channels = 2
sink = { virtual = "Stream mix" }
[[bus]]
name = "Chat"
channels = 2
sink = { virtual = "Chat mix" }
TOML
pw-metadata -n settings 0 clock.force-quantum 256 >/dev/null
for r in $(seq "$rounds"); do
    "$bin" run "$virtual" --backend pipewire --no-api --no-osc --no-midi --seconds 1 2>&1 |
        sed -n 's/^first audio callback \([0-9]*\) ms after start.*/start to first audio with 4 virtual devices: \1 ms/p'
    sleep 1
done
echo "offline (troubadour bench, standard 8x4, 256-frame blocks):"
"$bin" bench --rounds 5 | sed -n '1,3p'
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
