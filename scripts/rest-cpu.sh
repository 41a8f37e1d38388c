#!/usr/bin/env bash
# The daemon's CPU at rest on a private JACK server (dummy driver), side by side for
# several binaries: each started in turn, 4 s to settle, then 10 s of the scheduler's
# per-thread run time (/proc/PID/task/*/schedstat, nanoseconds).
#   scripts/rest-cpu.sh OLD_BINARY NEW_BINARY        (PERIOD=1024, ROUNDS=2)
# Each binary runs with OSC and MIDI on; the last also with --no-osc --no-midi.
# SURFACE=1: a MIDI surface that is not ours (python-rtmidi, silent) is connected to the
# mixer's MIDI input in each run, as on a desk with a controller plugged in.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
export JACK_DEFAULT_SERVER="rest-cpu-$$"
JACK_NO_AUDIO_RESERVATION=1 jackd -n "$JACK_DEFAULT_SERVER" --no-realtime -d dummy \
    -r 48000 -p "${PERIOD:-1024}" >/dev/null 2>&1 &
jackd_pid=$!
trap 'kill $jackd_pid 2>/dev/null' EXIT
jack_wait -w -t 10 >/dev/null
ns() { local s=0 t; for t in /proc/"$1"/task/*; do s=$((s + $(cut -d' ' -f1 "$t/schedstat"))); done; echo "$s"; }
peer=
if [ "${SURFACE:-0}" = 1 ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    fifo=$(mktemp -u) && mkfifo "$fifo"
    # The peer reads commands on stdin until it closes: a pipe this script holds open.
    python3 "$here/crates/cli/tests/clients/midi_peer.py" surface <"$fifo" >/dev/null 2>&1 &
    peer=$!
    exec 3>"$fifo"
    rm -f "$fifo"
    trap 'kill $jackd_pid $peer 2>/dev/null' EXIT
fi
measure() {
    local bin=$1; shift
    local surface=()
    if [ -n "$peer" ] && [[ "$*" != *--no-midi* ]]; then surface=(--midi-in surface:out); fi
    "$bin" run --backend jack --listen 127.0.0.1:0 "$@" "${surface[@]}" >/dev/null 2>&1 &
    local pid=$!
    sleep 4
    local a b; a=$(ns $pid); sleep 10; b=$(ns $pid)
    awk -v d=$((b - a)) -v bin="$bin" -v args="$* ${surface[*]}" 'BEGIN { printf "%-40s %-44s %.3f %% of a core\n", bin, args, d / 1e8 }'
    kill $pid; wait $pid 2>/dev/null || true
}
last="${!#}"
for _ in $(seq "${ROUNDS:-2}"); do
    for bin in "$@"; do measure "$bin" --osc 127.0.0.1:0; done
    measure "$last" --no-osc --no-midi
done
