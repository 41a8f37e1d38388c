"""An OSC client of a running Troubadour (python-osc's encoder and decoder, not ours).

Usage: osc_client.py SCENARIO OSC_PORT HTTP_ADDR. Each scenario drives the mixer over
OSC (and HTTP where it needs a change made elsewhere) and prints one JSON line of
findings; the Rust test asserts on them.
"""

import json
import socket
import struct
import sys
import time
import urllib.request

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

SCENARIO, PORT, HTTP = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TARGET = ("127.0.0.1", PORT)


def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def message(addr, *args):
    b = OscMessageBuilder(addr)
    for a in args:
        b.add_arg(a)
    return b.build()


def send(s, addr, *args):
    s.sendto(message(addr, *args).dgram, TARGET)


def recv(s, timeout=1.0):
    s.settimeout(timeout)
    try:
        data, _ = s.recvfrom(65536)
    except socket.timeout:
        return None
    m = OscMessage(data)
    return [m.address, [encode(p) for p in m.params]]


def encode(p):
    """JSON has no infinities or bytes: -inf as a string, blobs left out."""
    if isinstance(p, float) and p == float("-inf"):
        return "-inf"
    if isinstance(p, (bytes, bytearray)):
        return "<blob>"
    return p


def query(s, addr):
    send(s, addr)
    return recv(s)


def http(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{HTTP}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def http_value(path):
    return http("GET", f"/api/v1/params/{path}")["value"]


def bundle(timestamp, *messages):
    b = OscBundleBuilder(timestamp)
    for m in messages:
        b.add_content(m)
    return b.build().dgram


def basic():
    s = client()
    out = {}
    send(s, "/strip/Tone/fader_db", -6.0)
    send(s, "/strip/1/mute", 1)
    send(s, "/strip/Noise/mute", True)
    send(s, "/strip/1/send/B1/level_db", -12.0)
    send(s, "/bus/A1/fader_db/norm", 0.5)
    send(s, "/bus/B1/fader_db", "-inf")
    # Messages are served in order: once this query is answered, the sets are applied.
    out["fader"] = query(s, "/strip/Tone/fader_db")
    out["http"] = {
        p: http_value(p)
        for p in [
            "strip/Tone/fader_db",
            "strip/Tone/mute",
            "strip/Noise/mute",
            "strip/Tone/send/B1/level_db",
            "bus/A1/fader_db",
            "bus/B1/fader_db",
        ]
    }
    out["mute"] = query(s, "/strip/1/mute")
    out["send"] = query(s, "/strip/Tone/send/B1/level_db")
    out["a1_norm"] = query(s, "/bus/A1/fader_db/norm")
    out["b1"] = query(s, "/bus/B1/fader_db")
    send(s, "/nope", 1.0)
    out["unknown"] = recv(s)
    send(s, "/strip/Tone/fader_db", "loud")
    out["wrong_type"] = recv(s)
    send(s, "/strip/Tone/fader_db", 99.0)
    out["out_of_range"] = recv(s)
    send(s, "/strip/Nobody/fader_db", -1.0)
    out["no_strip"] = recv(s)
    s.sendto(b"\x00garbage", TARGET)
    out["malformed"] = recv(s)
    send(s, "/scene/save", "osc1")
    send(s, "/strip/Tone/fader_db", -20.0)
    send(s, "/scene/recall", "osc1", 0)
    out["recalled"] = query(s, "/strip/Tone/fader_db")
    send(s, "/undo")
    out["undone"] = query(s, "/strip/Tone/fader_db")
    send(s, "/redo", 1.0)
    out["redone"] = query(s, "/strip/Tone/fader_db")
    send(s, "/info")
    out["info"] = recv(s)
    send(s, "/list", "/strip/Tone")
    out["list"] = recv(s)
    return out


def bundles():
    s = client()
    out = {}
    s.sendto(bundle(IMMEDIATELY, message("/strip/Tone/fader_db", -10.0), message("/strip/Tone/fader_db", -20.0)), TARGET)
    out["last_wins"] = query(s, "/strip/Tone/fader_db")
    s.sendto(bundle(time.time() - 10, message("/strip/Tone/fader_db", -31.0)), TARGET)
    out["past"] = query(s, "/strip/Tone/fader_db")
    sent = time.monotonic()
    s.sendto(bundle(time.time() + 0.3, message("/strip/Tone/fader_db", -30.0)), TARGET)
    out["before"] = query(s, "/strip/Tone/fader_db")
    time.sleep(0.15)
    out["midway"] = query(s, "/strip/Tone/fader_db")
    out["midway_http"] = http_value("strip/Tone/fader_db")
    while time.monotonic() - sent < 2:
        r = query(s, "/strip/Tone/fader_db")
        if r and r[1] == [-30.0]:
            out["applied_after_ms"] = (time.monotonic() - sent) * 1e3
            break
        time.sleep(0.005)
    return out


def subscribe():
    s = client()
    send(s, "/subscribe", "/strip/Tone")
    # Served in order: once this answer is back, the subscription is in place.
    query(s, "/strip/Tone/fader_db")
    latencies, got = [], []
    for i in range(5):
        value = -1.0 - i
        t0 = time.monotonic()
        http("PUT", "/api/v1/params/strip/Tone/fader_db", {"value": value})
        r = recv(s, 1.0)
        latencies.append((time.monotonic() - t0) * 1e3)
        got.append(r)
    http("PUT", "/api/v1/params/bus/A1/fader_db", {"value": -3})
    outside = recv(s, 0.3)
    return {"latencies_ms": latencies, "got": got, "outside_prefix": outside}


def renewal():
    renewed, lapsed = client(), client()
    for s in (renewed, lapsed):
        send(s, "/subscribe")
        query(s, "/strip/Tone/fader_db")
    time.sleep(5)
    send(renewed, "/subscribe")
    query(renewed, "/strip/Tone/fader_db")
    time.sleep(5.5)
    t0 = time.monotonic()
    http("PUT", "/api/v1/params/strip/Noise/fader_db", {"value": -2})
    r = recv(renewed, 1.0)
    ms = (time.monotonic() - t0) * 1e3
    # The lapsed one may hold nothing but its own query's answer, long read.
    return {"renewed": r, "renewed_ms": ms, "lapsed": recv(lapsed, 0.5)}


def meters():
    s = client()
    send(s, "/meters", 20.0)
    frames, counters = [], []
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            break
        m = OscMessage(data)
        if m.address != "/meters":
            continue
        counter, blob = m.params
        counters.append(counter)
        meters, at = [], 0
        while at < len(blob):
            (n,) = struct.unpack_from(">i", blob, at)
            at += 4
            pairs = []
            for _ in range(n):
                peak, rms = struct.unpack_from(">ff", blob, at)
                at += 8
                pairs.append([encode(peak), encode(rms)])
            meters.append(pairs)
        frames.append(meters)
    send(s, "/meters", 0)
    return {"counters": counters, "frames": frames[-5:], "count": len(frames), "typetags": "ib"}


print(json.dumps({"basic": basic, "bundles": bundles, "subscribe": subscribe, "renewal": renewal, "meters": meters}[SCENARIO]()))
