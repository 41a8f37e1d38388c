"""Soak of the control API with real WebSocket clients (`websockets`, not ours).

Usage: soak.py WS_URL HTTP_URL SECONDS [SETTERS RATE METER_SUBS METER_RATE]

SETTERS clients each set a fader RATE times a second (waiting for each reply);
METER_SUBS clients take meter frames at METER_RATE Hz. Every reply must come back
in order (ids and sequence numbers increasing); resident memory is read from
/metrics after a warm-up and at the end. Prints one JSON line of findings.
"""

import asyncio
import json
import sys
import time
import urllib.request

import websockets

WS, HTTP, SECONDS = sys.argv[1], sys.argv[2], float(sys.argv[3])
SETTERS, RATE, METER_SUBS, METER_RATE = (int(x) for x in (sys.argv[4:8] + ["8", "100", "4", "60"][len(sys.argv[4:8]):]))


def resident_bytes():
    with urllib.request.urlopen(HTTP + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("troubadour_resident_memory_bytes "):
                return float(line.split()[1])
    return None


async def setter(k, out):
    acks, disorder, errors, worst = 0, 0, [], 0.0
    last_seq = 0
    async with websockets.connect(WS, max_queue=None) as ws:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while loop.time() - start < SECONDS:
            n += 1
            value = -((n + k) % 48) / 2.0
            sent = time.perf_counter()
            await ws.send(json.dumps({"id": n, "op": "set", "path": f"strip/{1 + k % 2}/send/{1 + k % 2}/level_db", "value": value}))
            reply = json.loads(await ws.recv())
            worst = max(worst, time.perf_counter() - sent)
            if not reply.get("ok"):
                errors.append(reply)
            elif reply["id"] != n or reply["seq"] <= last_seq:
                disorder += 1
            else:
                acks += 1
                last_seq = reply["seq"]
            next_at = start + n / RATE
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        out.append({"client": k, "sent": n, "acks": acks, "disorder": disorder, "errors": errors[:3], "worst_ms": worst * 1e3})


async def meters(k, out):
    frames = 0
    async with websockets.connect(WS, max_queue=None) as ws:
        await ws.send(json.dumps({"id": 1, "op": "subscribe", "topics": ["meters"], "rate": METER_RATE}))
        loop = asyncio.get_running_loop()
        end = loop.time() + SECONDS
        while loop.time() < end:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, end - loop.time())))
            except asyncio.TimeoutError:
                break
            if m.get("event") == "meters":
                frames += 1
    out.append({"client": k, "frames": frames})


async def main():
    setters, subs = [], []
    tasks = [setter(k, setters) for k in range(SETTERS)] + [meters(k, subs) for k in range(METER_SUBS)]
    run = asyncio.gather(*tasks)
    await asyncio.sleep(min(5.0, SECONDS / 4))
    rss_start = await asyncio.to_thread(resident_bytes)
    await run
    rss_end = await asyncio.to_thread(resident_bytes)
    print(json.dumps({"setters": setters, "meters": subs, "rss_start": rss_start, "rss_end": rss_end}))


asyncio.run(main())
