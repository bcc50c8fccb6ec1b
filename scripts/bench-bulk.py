#!/usr/bin/env python3
"""Benchmark of bulk pinning (issue 4): seeds balena-sandbox with 10,000 devices in one fleet,
pins all of them with `balena device pin --fleet F <release>` in one invocation, then returns
them with `balena device track-fleet --fleet F`.

Goals: under 2 s each against the local sandbox, and at most 1 request per 100 devices.

Usage: scripts/bench-bulk.py [--devices N] [--runs R]

Builds both binaries in release mode, starts the sandbox on 127.0.0.1 with a temporary database
and a request log, checks the result on the server after each run, prints a Markdown table for
BENCHMARKS.md, and stops the sandbox. Loopback only, bounded loops.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-0123456789"


def log_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--workspace", "--bins"], cwd=ROOT, check=True)
    balena = os.path.join(ROOT, "target", "release", "balena")
    sandbox = os.path.join(ROOT, "target", "release", "balena-sandbox")
    tmp = tempfile.mkdtemp(prefix="bench-bulk-")
    log = os.path.join(tmp, "requests.jsonl")
    proc = subprocess.Popen(
        [sandbox, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "db.sqlite"), "--token", TOKEN,
         "--devices", str(args.devices), "--releases", "5", "--log", log],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = proc.stdout.readline().strip()
        if not base.startswith("http"):
            raise SystemExit(f"sandbox did not start (got {base!r})")
        q = lambda s: urllib.parse.quote(s, safe="$(),;=:/'*&")

        def get(path):
            req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(req) as r:
                return json.load(r)

        fleet = get("/v7/application?" + q("$select=id,slug&$orderby=id desc&$top=1"))["d"][0]
        rels = get("/v7/release?" + q(
            f"$select=id,commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'"
            "&$orderby=id asc&$top=2"))["d"]

        def pinned_to(rel_id):
            flt = "is_pinned_on__release eq null" if rel_id is None else f"is_pinned_on__release eq {rel_id}"
            return get("/v7/device/$count?" + q(f"$filter=belongs_to__application eq {fleet['id']} and {flt}"))["d"]

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
               "BALENARC_API_URL": base, "BALENA_API_KEY": TOKEN}
        slug = fleet["slug"]
        results = {"pin": [], "track": []}
        reqs = {"pin": [], "track": []}
        for run in range(args.runs):
            rel = rels[run % len(rels)]
            for name, argv, expect in [
                ("pin", [balena, "device", "pin", "--fleet", slug, rel["commit"]], rel["id"]),
                ("track", [balena, "device", "track-fleet", "--fleet", slug], None),
            ]:
                before = len(log_lines(log))
                t0 = time.perf_counter()
                p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    raise SystemExit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()}")
                time.sleep(0.05)
                n = len(log_lines(log)) - before
                got = pinned_to(expect)
                if got != args.devices:
                    raise SystemExit(f"{name}: expected {args.devices} devices in the new state, found {got}")
                results[name].append(wall)
                reqs[name].append(n)

        print(f"{args.devices} devices in fleet `{slug}`; {args.runs} runs each, every run checked on the server.\n")
        print("| command | median s | max s | requests | requests per 100 devices |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, label in [("pin", "`balena device pin --fleet F <commit>`"),
                            ("track", "`balena device track-fleet --fleet F`")]:
            r = reqs[name]
            print(f"| {label} | {statistics.median(results[name]):.2f} | {max(results[name]):.2f} | "
                  f"{max(r)} | {max(r) * 100 / args.devices:.2f} |")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
