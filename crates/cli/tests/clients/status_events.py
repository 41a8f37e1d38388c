"""Waits for one `status` event of a kind on a running Troubadour's WebSocket (the
`websockets` library, not ours): `status_events.py URL KIND SECONDS [FIELD=JSON…]`.
Prints the first such event (whose FIELDs, if given, hold those JSON values) as one
JSON line, or `null` if none came within SECONDS.
"""

import asyncio
import json
import sys

import websockets

URL, KIND, SECONDS = sys.argv[1], sys.argv[2], float(sys.argv[3])
WANT = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}


async def main():
    async with websockets.connect(URL) as ws:
        await ws.send(json.dumps({"id": 1, "op": "subscribe", "topics": ["status"]}))
        loop = asyncio.get_running_loop()
        end = loop.time() + SECONDS
        while loop.time() < end:
            try:
                e = json.loads(await asyncio.wait_for(ws.recv(), end - loop.time()))
            except asyncio.TimeoutError:
                break
            if e.get("id") == 1:
                assert e["ok"], e
            elif e.get("event") == KIND and all(e.get(k) == v for k, v in WANT.items()):
                print(json.dumps(e))
                return
        print("null")


asyncio.run(main())
