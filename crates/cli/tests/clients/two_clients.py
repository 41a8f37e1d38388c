"""Two WebSocket clients of a running Troubadour (the `websockets` library, not ours).

Client A sets a fader 20 times; client B must receive every change as a `changed`
event, in sequence order, with A's origin. Both subscribe to meters (A at 30 Hz,
B at 10 Hz) and must each see the sine's peak in every frame: if one stole the
other's peaks, the slower one would see silence. Prints one JSON line of findings.
"""

import asyncio
import json
import sys

import websockets

URL = sys.argv[1]


async def call(ws, pending, msg):
    await ws.send(json.dumps(msg))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("id") == msg["id"]:
            return reply
        pending.append(reply)


async def main():
    async with websockets.connect(URL) as a, websockets.connect(URL) as b:
        a_events, b_events = [], []
        sub_a = await call(a, a_events, {"id": 1, "op": "subscribe", "topics": ["changes", "meters"], "rate": 30})
        sub_b = await call(b, b_events, {"id": 1, "op": "subscribe", "topics": ["changes", "meters"], "rate": 10})
        assert sub_a["ok"] and sub_b["ok"], (sub_a, sub_b)
        origin_a = sub_a["origin"]
        acks = []
        for i in range(20):
            r = await call(a, a_events, {"id": 100 + i, "op": "set", "path": "strip/Tone/fader_db", "value": -float(i + 1) / 2})
            assert r["ok"], r
            acks.append(r["seq"])

        async def drain(ws, sink, seconds):
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds
            while loop.time() < end:
                try:
                    sink.append(json.loads(await asyncio.wait_for(ws.recv(), end - loop.time())))
                except asyncio.TimeoutError:
                    break

        await asyncio.gather(drain(a, a_events, 2.0), drain(b, b_events, 2.0))

        def changes(events):
            return [(e["seq"], e["value"], e["origin"]) for e in events if e.get("event") == "changed"]

        def bus_peaks(events):
            out = []
            for e in events:
                if e.get("event") == "meters":
                    p = e["buses"][1]["post"][0][0]
                    out.append(-999.0 if p == "-inf" else p)
            return out

        print(json.dumps({
            "origin_a": origin_a,
            "acks": acks,
            "b_changes": changes(b_events),
            "a_changes": changes(a_events),
            "a_peaks": bus_peaks(a_events),
            "b_peaks": bus_peaks(b_events),
        }))


asyncio.run(main())
