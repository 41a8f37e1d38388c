"""A MIDI surface that is not ours: python-rtmidi on its JACK backend.

Opens JACK client `NAME` with an output port `out` and an input port `in` (as
`NAME:out`, `NAME:in`), prints `ready`, then reads commands on stdin, one a line:
`send B0 07 40 ...` sends those bytes (hex) as one JACK MIDI event, exactly as given
(running status, SysEx in the middle, real-time bytes: nothing is checked); `quit`
ends. Every event received is printed as `in B0 07 40`.
"""
import sys

import rtmidi

name = sys.argv[1]
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
out.open_virtual_port("out")
inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=name + "-in")
inp.ignore_types(sysex=False, timing=False, active_sense=False)
inp.open_virtual_port("in")


def received(event, _data):
    message, _delta = event
    print("in " + " ".join(f"{b:02X}" for b in message), flush=True)


inp.set_callback(received)
print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "quit":
        break
    if words[0] == "send":
        out.send_message([int(w, 16) for w in words[1:]])
        print("sent", flush=True)
del out
del inp
