#!/usr/bin/env python3
"""Benchmark of the `balena` binary (issue 3) against a local balena-sandbox.

Measures, for each command: median and p90 wall time over N runs, peak RSS (max over the runs,
from GNU time's %M) and HTTP round trips per run (counted from the sandbox's --log file).

Usage: scripts/bench-cli.py [--runs N] [--releases M] [--baseline PATH]

With --baseline, each `balena` run is interleaved with the same run of another `balena`
binary (e.g. a release build of an earlier commit), and the table gets its median and the
ratio ours/baseline: a side-by-side comparison in one run, robust to a noisy machine.

Builds both binaries in release mode, starts `balena-sandbox --devices 100 --releases 1000`
(a fleet of 1,000 releases) on 127.0.0.1 with a temporary database, prints a Markdown table for
BENCHMARKS.md and stops the sandbox. Loopback only, bounded loops.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from benchlib import RELEASE, build, cli_env, q, sandbox


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--releases", type=int, default=1000)
    ap.add_argument("--baseline", help="another balena binary to run side by side")
    args = ap.parse_args()

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    with sandbox("--devices", "100", "--releases", str(args.releases)) as sb:
        tmp = sb.tmp
        fleet = sb.newest_fleet()
        rels = sb.get("/v7/release?" + q(
            f"$select=commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'&$top=2"))["d"]
        commits = [r["commit"] for r in rels]
        n_rel = sb.get("/v7/release/$count?" + q(f"$filter=belongs_to__application eq {fleet['id']}"))["d"]
        env = cli_env(sb)
        slug = fleet["slug"]
        cases = [
            ("`/bin/true` (the floor: process start-up under the harness)", None),
            ("`balena --version`", lambda i: ["--version"]),
            (f"`balena fleet pin <fleet> <commit>` (alternating 2 commits, {n_rel} releases)",
             lambda i: ["fleet", "pin", slug, commits[i % 2]]),
            (f"`balena release list <fleet>` ({n_rel} releases)", lambda i: ["release", "list", slug]),
            (f"`balena release list <fleet> --json` ({n_rel} releases)",
             lambda i: ["release", "list", slug, "--json"]),
            ("`balena fleet track-latest <fleet>`", lambda i: ["fleet", "track-latest", slug]),
        ]
        print(f"{args.runs} runs each; sandbox fleet `{slug}`.\n")
        head = "| command | median ms | p90 ms | peak RSS MiB | requests per run |"
        rule = "| --- | ---: | ---: | ---: | ---: |"
        if args.baseline:
            head += " baseline median ms | baseline peak RSS MiB | ours / baseline |"
            rule += " ---: | ---: | ---: |"
        print(head)
        print(rule)
        for name, argv in cases:
            walls, rss, bwalls, brss = [], [], [], []
            reqs = 0
            for i in range(args.runs):
                ours = ["/bin/true"] if argv is None else [balena, *argv(i)]
                before = sb.log_count()
                w, r = run_measured(ours, env, tmp)
                reqs += sb.log_count() - before
                walls.append(w)
                rss.append(r)
                if args.baseline:
                    base = ["/bin/true"] if argv is None else [args.baseline, *argv(i)]
                    w, r = run_measured(base, env, tmp)
                    bwalls.append(w)
                    brss.append(r)
            walls.sort()
            p90 = walls[int(0.9 * (len(walls) - 1))]
            med = statistics.median(walls)
            row = f"| {name} | {med:.2f} | {p90:.2f} | {max(rss):.1f} | {reqs / args.runs:.1f} |"
            if args.baseline:
                bmed = statistics.median(bwalls)
                row += f" {bmed:.2f} | {max(brss):.1f} | {med / bmed:.2f} |"
            print(row)


if __name__ == "__main__":
    sys.exit(main())
