#!/usr/bin/env bash
# Runs the mixer from source on a fresh machine with a Rust toolchain: installs what the
# build needs when it is missing (pkg-config, JACK's development files: the `jack` crate
# loads libjack at run time, but its build script asks pkg-config for it; and ALSA's, for
# the cpal backend that plays through the desktop's sound server), then
# `cargo run --release -- ARGS`. With no ARGS: `run`, the built-in 2-strip, 2-bus
# session on the backend `auto` picks: a JACK server if one answers, else PipeWire
# natively, else the desktop's sound server (PulseAudio) through cpal, else the null
# backend.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt.sh

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists jack 2>/dev/null || missing+=(libjack-jackd2-dev)
pkg-config --exists alsa 2>/dev/null || missing+=(libasound2-dev)
# The native PipeWire backend: libpipewire's headers, clang and libclang (the `pipewire`
# crate generates its bindings at build time).
pkg-config --exists libpipewire-0.3 2>/dev/null || missing+=(libpipewire-0.3-dev)
command -v clang >/dev/null 2>&1 || missing+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || missing+=(libclang-dev)
apt_install "${missing[@]}"

[ $# -gt 0 ] || set -- run
exec cargo run --release -- "$@"
