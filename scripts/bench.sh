#!/usr/bin/env bash
# Troubadour's benchmarks. Speed is measured here, never asserted in tests.
#
#   scripts/bench.sh all                every criterion benchmark, then the ratio tables
#   scripts/bench.sh GROUP              one bench target (ring, kernels, processors,
#                                       resample, mixer, memory, parallel) or any criterion filter
#                                       (e.g. 'eq/', 'standard/8x4')
#   scripts/bench.sh save NAME          run everything and save criterion baseline NAME
#   scripts/bench.sh compare NAME       run everything and compare against baseline NAME
#   scripts/bench.sh flamegraph [ARGS]  profile `troubadour bench ARGS` (default: the
#                                       standard workload) into target/flamegraph.svg
#   scripts/bench.sh quick              one fast pass of every benchmark (what CI runs)
#   scripts/bench.sh ab N BIN...        `BIN bench` (troubadour binaries, e.g. copies of
#                                       target/release/troubadour from two commits) in
#                                       turn, N rounds: median, best and worst of each
#
# Benchmarks fight over the CPU: do not build or run anything else meanwhile. Results
# and their commands are recorded in docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# bench target → package
package_of() {
    case "$1" in
        ring) echo troubadour-rt ;;
        kernels | processors | resample) echo troubadour-dsp ;;
        mixer | memory | parallel) echo troubadour-engine ;;
        *) return 1 ;;
    esac
}

ensure_soxr() {
    # The resampling benchmark links libsoxr (the reference it is compared with).
    if ! pkg-config --exists soxr 2>/dev/null; then
        echo "bench.sh: libsoxr is missing; 'bash scripts/test.sh' installs it (libsoxr-dev)" >&2
        exit 1
    fi
}

flamegraph() {
    if ! command -v perf >/dev/null 2>&1; then
        echo "bench.sh: perf is not installed (Debian: linux-perf)" >&2
        exit 1
    fi
    if ! command -v inferno-flamegraph >/dev/null 2>&1; then
        echo "== installing inferno (perf stacks → SVG) with cargo install"
        cargo install --quiet inferno
    fi
    cargo build --release -p troubadour
    local data=target/perf.data
    # A software clock event: hardware counters are often unavailable in VMs.
    if ! perf record -o "$data" -F 4999 -e cpu-clock -g -- \
        target/release/troubadour bench --rounds 3 --seconds 5 "$@" >/dev/null 2>target/perf.err; then
        cat target/perf.err >&2
        echo "bench.sh: perf could not sample: the kernel forbids it here" \
            "(kernel.perf_event_paranoid = $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?'))." \
            "Try: sudo sysctl kernel.perf_event_paranoid=1, or run as root." >&2
        exit 1
    fi
    perf script -i "$data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >target/flamegraph.svg
    echo "== hottest functions"
    perf report -i "$data" --no-children -g none --percent-limit 2 --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -15
    echo "flamegraph: target/flamegraph.svg"
}

# Alternates short `bench` runs of several binaries, so that they see the same phases
# of a machine whose speed drifts: one run of each per round.
ab() {
    local rounds=$1
    shift
    local dir
    dir=$(mktemp -d)
    for _ in $(seq "$rounds"); do
        for bin in "$@"; do
            "$bin" bench --rounds 3 --seconds "${AB_SECONDS:-0.5}" | awk '/real time/ {print $3+0}' >>"$dir/$(basename "$bin").$(cksum <<<"$bin" | cut -d' ' -f1)"
        done
    done
    for bin in "$@"; do
        sort -n "$dir/$(basename "$bin").$(cksum <<<"$bin" | cut -d' ' -f1)" |
            awk -v b="$bin" '{a[NR]=$1} END {printf "%s: median %sx, best %sx, worst %sx (%d rounds)\n", b, a[int((NR+1)/2)], a[NR], a[1], NR}'
    done
    rm -r "$dir"
}

[ $# -ge 1 ] || usage
case "$1" in
    ab)
        [ $# -ge 3 ] || usage
        shift
        ab "$@"
        ;;
    all)
        ensure_soxr
        cargo bench --workspace
        ;;
    save | compare)
        [ $# -eq 2 ] || usage
        ensure_soxr
        flag=--save-baseline
        [ "$1" = compare ] && flag=--baseline
        cargo bench --workspace -- "$flag" "$2"
        ;;
    flamegraph)
        shift
        flamegraph "$@"
        ;;
    quick)
        ensure_soxr
        RING_BENCH_ITEMS=1000000 cargo test --workspace --benches
        ;;
    -h | --help | help)
        usage
        ;;
    *)
        if pkg=$(package_of "$1"); then
            [ "$1" = resample ] && ensure_soxr
            target=$1
            shift
            cargo bench -p "$pkg" --bench "$target" -- "$@"
        else
            ensure_soxr
            cargo bench --workspace -- "$@"
        fi
        ;;
esac
