#!/usr/bin/env python3
"""Writes the four configurations of the CamillaDSP side by side (docs/PERFORMANCE.md):
pass-through and processing, each as a Troubadour session and a CamillaDSP config.
Writes them into the current folder; scripts/vs-camilladsp.sh runs it in a folder of
its own."""

EQ = [("highpass", 80.0, 0.0), ("lowshelf", 200.0, 2.0), ("peak", 3000.0, -3.0),
      ("highshelf", 10000.0, 1.5)]
HEAD = "version = 1\nsample_rate = 48000\nblock_frames = 256\n\n"


def toml_eq():
    return "[" + ", ".join(
        f'{{ kind = "{k}", freq = {f}, q = 1.0, gain_db = {g} }}' for k, f, g in EQ) + "]"


COMP = ("{ threshold_db = -24.0, ratio = 3.0, attack_ms = 5.0, release_ms = 120.0, "
        'knee_db = 6.0, detector = "rms", rms_ms = 10.0 }')


def troubadour(processing):
    s = HEAD
    for i in range(8):
        s += f'[[strip]]\nname = "S{i}"\nchannels = 2\nsource = {{ file = "f{i}.wav" }}\n'
        if processing:
            s += "fader_db = -6.0\npan = 0.1\n"
            s += ("gate = { open_db = -50.0, close_db = -60.0, attack_ms = 1.0, "
                  "hold_ms = 50.0, release_ms = 100.0, range_db = -60.0 }\n")
            s += f"eq = {toml_eq()}\ncompressor = {COMP}\n"
            s += "sends = { " + ", ".join(f"B{b} = {{ level_db = {-b:.1f} }}" for b in range(4)) + " }\n\n"
        else:
            s += f"sends = {{ B{i // 2} = {{}} }}\n\n"
    for b in range(4):
        s += f'[[bus]]\nname = "B{b}"\nchannels = 2\n'
        if processing:
            s += f"fader_db = -3.0\neq = {toml_eq()}\ncompressor = {COMP}\n"
            s += "limiter = { ceiling_db = -1.0, lookahead_ms = 1.5, release_ms = 80.0 }\n"
        s += "\n"
    return s


def camilla(processing):
    y = """devices:
  samplerate: 48000
  chunksize: 256
  capture:
    type: WavFile
    filename: in16.wav
  playback:
    type: File
    channels: 8
    format: F32_LE
    filename: out8.raw
mixers:
  m:
    channels:
      in: 16
      out: 8
    mapping:
"""
    for dest in range(8):
        bus, side = divmod(dest, 2)
        y += f"      - dest: {dest}\n        sources:\n"
        if processing:
            # every strip to every bus: strip fader -6 dB + send -bus dB
            for strip in range(8):
                y += f"          - {{channel: {2 * strip + side}, gain: {-6 - bus}}}\n"
        else:
            for strip in (2 * bus, 2 * bus + 1):
                y += f"          - {{channel: {2 * strip + side}, gain: 0}}\n"
    if processing:
        y += "filters:\n"
        names = {"highpass": "Highpass", "lowshelf": "Lowshelf", "peak": "Peaking",
                 "highshelf": "Highshelf"}
        for k, f, g in EQ:
            gain = "" if k == "highpass" else f", gain: {g}"
            y += f"  eq_{k}:\n    type: Biquad\n    parameters: {{type: {names[k]}, freq: {f}, q: 1.0{gain}}}\n"
        y += "  busfader:\n    type: Gain\n    parameters: {gain: -3.0}\n"
        y += "  limit:\n    type: LookaheadLimiter\n    parameters: {limit: -1.0, attack: 1.5, attack_unit: ms, release: 80.0, release_unit: ms}\n"
        y += "processors:\n"
        for i in range(8):
            ch = f"[{2 * i}, {2 * i + 1}]"
            y += (f"  gate{i}:\n    type: NoiseGate\n    parameters: {{channels: 16, monitor_channels: {ch}, "
                  f"process_channels: {ch}, attack: 1.0, attack_unit: ms, release: 100.0, release_unit: ms, threshold: -50.0, attenuation: 60.0}}\n")
            y += (f"  scomp{i}:\n    type: Compressor\n    parameters: {{channels: 16, monitor_channels: {ch}, "
                  f"process_channels: {ch}, attack: 5.0, attack_unit: ms, release: 120.0, release_unit: ms, threshold: -24.0, factor: 3.0, makeup_gain: 0.0}}\n")
        for b in range(4):
            ch = f"[{2 * b}, {2 * b + 1}]"
            y += (f"  bcomp{b}:\n    type: Compressor\n    parameters: {{channels: 8, monitor_channels: {ch}, "
                  f"process_channels: {ch}, attack: 5.0, attack_unit: ms, release: 120.0, release_unit: ms, threshold: -24.0, factor: 3.0, makeup_gain: 0.0}}\n")
    y += "pipeline:\n"
    eqs = ", ".join(f"eq_{k}" for k, _, _ in EQ)
    if processing:
        for i in range(8):
            y += f"  - {{type: Processor, name: gate{i}}}\n"
        y += f"  - {{type: Filter, channels: [{', '.join(map(str, range(16)))}], names: [{eqs}]}}\n"
        for i in range(8):
            y += f"  - {{type: Processor, name: scomp{i}}}\n"
    y += "  - {type: Mixer, name: m}\n"
    if processing:
        y += f"  - {{type: Filter, channels: [{', '.join(map(str, range(8)))}], names: [busfader, {eqs}]}}\n"
        for b in range(4):
            y += f"  - {{type: Processor, name: bcomp{b}}}\n"
        y += f"  - {{type: Filter, channels: [{', '.join(map(str, range(8)))}], names: [limit]}}\n"
    return y


for name, proc in (("pass", False), ("proc", True)):
    open(f"{name}.toml", "w").write(troubadour(proc))
    open(f"{name}.yml", "w").write(camilla(proc))
