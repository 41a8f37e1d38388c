"""Spectrum frames seen by real WebSocket clients (the `websockets` library, not ours).

Client A subscribes to the spectrum of strip "Tone" (a sine) by index and of bus A1;
client B subscribes to meters only and must never see a spectrum frame. A collects
frames for a while, unsubscribes from the strip, then counts the frames that still
name it. Prints one JSON line of findings; the Rust side judges them.
"""

import asyncio
import json
import sys
import urllib.request

import websockets

URL = sys.argv[1]
METRICS = sys.argv[2]


def taps_open():
    with urllib.request.urlopen(METRICS) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("troubadour_spectrum_taps_open "):
                return float(line.split()[1])
    return None


async def call(ws, pending, msg):
    await ws.send(json.dumps(msg))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("id") == msg["id"]:
            return reply
        pending.append(reply)


async def drain(ws, sink, seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            sink.append(json.loads(await asyncio.wait_for(ws.recv(), end - loop.time())))
        except asyncio.TimeoutError:
            break


async def main():
    found = {"taps_at_rest": taps_open()}
    async with websockets.connect(URL) as a, websockets.connect(URL) as b:
        a_events, b_events = [], []
        found["b_sub"] = await call(b, b_events, {"id": 1, "op": "subscribe", "topics": ["meters"], "rate": 10})
        found["strip_sub"] = await call(a, a_events, {"id": 1, "op": "spectrum_subscribe", "target": "strip/1"})
        found["bus_sub"] = await call(a, a_events, {"id": 2, "op": "spectrum_subscribe", "target": "bus/A1"})
        found["missing_sub"] = await call(a, a_events, {"id": 3, "op": "spectrum_subscribe", "target": "strip/Nobody"})
        found["taps_open"] = taps_open()
        await asyncio.gather(drain(a, a_events, 1.5), drain(b, b_events, 1.5))
        found["unsub"] = await call(a, a_events, {"id": 4, "op": "spectrum_unsubscribe", "target": "strip/1"})
        # The feed's task ends on the server's next turn: a moment at most.
        for _ in range(20):
            if taps_open() == 1:
                break
            await asyncio.sleep(0.05)
        found["taps_after_unsub"] = taps_open()
        after = []
        await drain(a, after, 0.5)
        frames = [e for e in a_events if e.get("event") == "spectrum"]
        found["strip_frames"] = [e for e in frames if e["target"] == "strip/Tone"]
        found["bus_frames"] = len([e for e in frames if e["target"] == "bus/A1"])
        found["b_spectrum_frames"] = len([e for e in b_events if e.get("event") == "spectrum"])
        found["b_meter_frames"] = len([e for e in b_events if e.get("event") == "meters"])
        found["strip_frames_after_unsub"] = len(
            [e for e in after if e.get("event") == "spectrum" and e["target"] == "strip/Tone"])
        found["bus_frames_after_unsub"] = len(
            [e for e in after if e.get("event") == "spectrum" and e["target"] == "bus/A1"])
    # Both connections closed: the bus's tap goes with A.
    for _ in range(50):
        if taps_open() == 0:
            break
        await asyncio.sleep(0.05)
    found["taps_after_close"] = taps_open()
    print(json.dumps(found))


asyncio.run(main())
