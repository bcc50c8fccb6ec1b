#!/usr/bin/env python3
"""Benchmark of the `balena` binary (issue 3) against a local balena-sandbox.

Measures, for each command: median and p90 wall time over N runs, peak RSS (max over the runs,
from wait4's ru_maxrss) and HTTP round trips per run (counted from the sandbox's --log file).

Usage: scripts/bench-cli.py [--runs N] [--releases M]

Builds both binaries in release mode, starts `balena-sandbox --devices 100 --releases 1000`
(a fleet of 1,000 releases) on 127.0.0.1 with a temporary database, prints a Markdown table for
BENCHMARKS.md and stops the sandbox. Loopback only, bounded loops.
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


def run_measured(argv, env, tmp):
    """Wall time in ms and peak RSS in MiB of one run. The RSS comes from GNU time's %M, measured
    in a small exec'd child: wait4() on a child forked from Python would count Python's own pages."""
    rss_file = os.path.join(tmp, "rss")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = (time.perf_counter() - t0) * 1000.0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    with open(rss_file) as f:
        rss_kib = int(f.read().strip().splitlines()[-1])
    return wall, rss_kib / 1024.0


def log_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--releases", type=int, default=1000)
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--workspace", "--bins"], cwd=ROOT, check=True)
    balena = os.path.join(ROOT, "target", "release", "balena")
    sandbox = os.path.join(ROOT, "target", "release", "balena-sandbox")
    tmp = tempfile.mkdtemp(prefix="bench-cli-")
    log = os.path.join(tmp, "requests.jsonl")
    proc = subprocess.Popen(
        [sandbox, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "db.sqlite"), "--token", TOKEN,
         "--devices", "100", "--releases", str(args.releases), "--log", log],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = proc.stdout.readline().strip()
        if not base.startswith("http"):
            raise SystemExit(f"sandbox did not start (got {base!r})")

        def get(path):
            req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(req) as r:
                return json.load(r)

        q = lambda s: urllib.parse.quote(s, safe="$(),;=:/'*&")
        fleet = get("/v7/application?" + q("$select=id,slug&$orderby=id desc&$top=1"))["d"][0]
        rels = get("/v7/release?" + q(
            f"$select=commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'&$top=2"))["d"]
        commits = [r["commit"] for r in rels]
        n_rel = get("/v7/release/$count?" + q(f"$filter=belongs_to__application eq {fleet['id']}"))["d"]

        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "BALENARC_API_URL": base, "BALENARC_DATA_DIRECTORY": os.path.join(home, ".balena"),
               "BALENA_API_KEY": TOKEN}
        slug = fleet["slug"]
        cases = [
            ("`/bin/true` (the floor: process start-up under the harness)", lambda i: ["/bin/true"]),
            ("`balena --version`", lambda i: [balena, "--version"]),
            (f"`balena fleet pin <fleet> <commit>` (alternating 2 commits, {n_rel} releases)",
             lambda i: [balena, "fleet", "pin", slug, commits[i % 2]]),
            (f"`balena release list <fleet>` ({n_rel} releases)", lambda i: [balena, "release", "list", slug]),
            (f"`balena release list <fleet> --json` ({n_rel} releases)",
             lambda i: [balena, "release", "list", slug, "--json"]),
            ("`balena fleet track-latest <fleet>`", lambda i: [balena, "fleet", "track-latest", slug]),
        ]
        print(f"{args.runs} runs each; sandbox fleet `{slug}`.\n")
        print("| command | median ms | p90 ms | peak RSS MiB | requests per run |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, argv in cases:
            walls, rss = [], []
            before = log_lines(log)
            for i in range(args.runs):
                w, r = run_measured(argv(i), env, tmp)
                walls.append(w)
                rss.append(r)
            time.sleep(0.05)
            reqs = (log_lines(log) - before) / args.runs
            walls.sort()
            p90 = walls[int(0.9 * (len(walls) - 1))]
            print(f"| {name} | {statistics.median(walls):.2f} | {p90:.2f} | {max(rss):.1f} | {reqs:.1f} |")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
