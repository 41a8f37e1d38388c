#!/usr/bin/env python3
"""What one meter client costs the daemon, per thread, with nanosecond CPU times
(/proc/<pid>/task/<tid>/schedstat) so a 10 s window resolves 0.01 % of a core.

    python3 scripts/meter-cost.py BINARY SESSION [SECONDS]    (RATE=60 by default)

Starts `BINARY run SESSION --backend null`, measures every thread over SECONDS at rest,
then over SECONDS with one WebSocket client (Python's `websockets`, not ours) taking
meter frames at RATE, and prints both and the difference without the audio thread
(whose DSP load is the same in both windows and only adds noise). Run two binaries in
turn to compare them side by side."""
import asyncio, json, os, re, subprocess, sys, time, glob
import websockets
BIN = sys.argv[1]; SESSION = sys.argv[2]; SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 15
RATE = float(os.environ.get("RATE", 60))
p = subprocess.Popen([BIN, "run", SESSION, "--backend", "null", "--listen", "127.0.0.1:0", "--no-osc", "--no-midi"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
url = None
while url is None:
    line = p.stdout.readline()
    m = re.search(r"control API on http://([^/\s]+)/api/v1", line)
    if m: url = m.group(1)
def threads():
    out = {}
    for t in glob.glob(f"/proc/{p.pid}/task/*"):
        try:
            ns = int(open(t + "/schedstat").read().split()[0]); name = open(t + "/comm").read().strip()
        except OSError: continue
        out[t.rsplit("/",1)[1]] = (name, ns / 1e9)
    return out
def delta(a, b, secs):
    agg = {}
    for tid, (name, c) in b.items():
        agg[name] = agg.get(name, 0) + c - a.get(tid, (name, 0))[1]
    return {k: round(100 * v / secs, 2) for k, v in agg.items() if v > 0}
async def main():
    time.sleep(1)
    a = threads(); t = time.time(); await asyncio.sleep(SECS); rest = delta(a, threads(), time.time() - t)
    async with websockets.connect(f"ws://{url}/api/v1/ws", max_size=None) as ws:
        await ws.send(json.dumps({"id": 1, "op": "subscribe", "topics": ["meters"], "rate": RATE}))
        n = 0; a = threads(); t = time.time()
        while time.time() - t < SECS:
            await ws.recv(); n += 1
        listened = delta(a, threads(), time.time() - t)
    print("rest", rest); print("60Hz", listened, "frames", n)
    side = lambda d: sum(v for k, v in d.items() if k != "troubadour-null")
    print("page share (all but the audio thread): %.2f %% of a core" % (side(listened) - side(rest)))
asyncio.run(main()); p.terminate(); p.wait()
