#!/usr/bin/env python3
"""Reads `cargo test --no-run --message-format=json` on stdin and prints, one per line,
`DIR EXE` for every test executable of the package named in argv[1] (DIR: its package's
folder, where `cargo test` runs it). Running those again under another environment
reuses the workspace's build, where `cargo test -p PACKAGE` would resolve the package's
dependencies' features apart from the workspace's and rebuild them."""
import json
import os
import sys

package = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    if not m.get("profile", {}).get("test"):
        continue
    if f"#{package}@" not in m["package_id"] and not m["package_id"].startswith(f"{package} "):
        continue
    print(os.path.dirname(m["manifest_path"]), m["executable"])
