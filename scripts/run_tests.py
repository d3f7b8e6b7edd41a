"""Builds every test binary with one `cargo test --no-run`, then runs them side by
side (TEST_JOBS at a time, 2 by default), each with the working directory and
CARGO_* variables cargo would give it. Most binaries wait on DynamoDB Local, so two
at a time use the two cores that one at a time leaves half idle.

Each binary's output is printed whole when it ends, never interleaved. The slowest
binaries of the previous run (or of scripts/test-timings.json) start first. Exit status 1 when any binary fails.

Usage: run_tests.py [cargo args...] [-- test binary args...]
"""
import json
import os
import subprocess
import sys
import threading
import time

args = sys.argv[1:]
cargo_args, binary_args = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
# Flags that only change how cargo runs the binaries have no meaning here.
cargo_args = [a for a in cargo_args if a not in ("--no-fail-fast",)]

build = subprocess.run(
    ["cargo", "test", "--workspace", "--tests", "--no-run", "--message-format=json-render-diagnostics", *cargo_args],
    stdout=subprocess.PIPE,
    text=True,
)
binaries = []
for line in build.stdout.splitlines():
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("profile", {}).get("test") and msg.get("executable"):
        target = msg["target"]
        binaries.append(
            {
                "name": f"{os.path.basename(os.path.dirname(msg['manifest_path']))}/{target['name']}",
                "src": target["src_path"],
                "exe": msg["executable"],
                "dir": os.path.dirname(msg["manifest_path"]),
            }
        )
if build.returncode != 0:
    sys.exit(build.returncode)

timings_path = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "test-timings.json")
# A clean clone has no timings of its own yet: those of a run on this project's
# machine, kept beside this script, order the first run.
previous = {}
for path in (timings_path, os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-timings.json")):
    try:
        previous = json.load(open(path))
        break
    except (OSError, ValueError):
        continue
binaries.sort(key=lambda b: -previous.get(b["name"], 0))

jobs = int(os.environ.get("TEST_JOBS", "2"))
# Most tests wait on DynamoDB Local: four threads per binary keep the cores busy.
if not any(a.startswith("--test-threads") for a in binary_args):
    binary_args.append(f"--test-threads={os.environ.get('TEST_THREADS', '4')}")
lock = threading.Lock()
failed, timings = [], {}


def run(b):
    env = dict(os.environ)
    env["CARGO_MANIFEST_DIR"] = b["dir"]
    start = time.monotonic()
    proc = subprocess.run([b["exe"], *binary_args], cwd=b["dir"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.monotonic() - start
    rel = os.path.relpath(b["src"], b["dir"])
    with lock:
        timings[b["name"]] = round(took, 1)
        print(f"     Running {rel} ({b['exe']}) [{b['name']}, {took:.1f} s]", flush=True)
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed.append(b["name"])


queue = list(binaries)


def worker():
    while True:
        with lock:
            if not queue:
                return
            b = queue.pop(0)
        run(b)


threads = [threading.Thread(target=worker) for _ in range(jobs)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(timings_path, "w") as f:
    json.dump(timings, f, indent=1, sort_keys=True)
if failed:
    print(f"failed: {', '.join(failed)}", flush=True)
    sys.exit(1)
