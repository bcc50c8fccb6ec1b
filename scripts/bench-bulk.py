#!/usr/bin/env python3
"""Benchmark of bulk pinning (issue 4): seeds balena-sandbox with 10,000 devices in one fleet,
pins all of them with `balena device pin --fleet F <release>` in one invocation, then returns
them with `balena device track-fleet --fleet F`.

Goals (issue 10, at 100,000 devices): at most 1.2 s and 40 MiB peak RSS each against the local
sandbox, and at most 1 request per 100 devices.

Usage: scripts/bench-bulk.py [--devices N] [--runs R]

Builds both binaries in release mode, starts the sandbox on 127.0.0.1 with a temporary database
and a request log, checks the result on the server after each run, prints a Markdown table for
BENCHMARKS.md, and stops the sandbox. Loopback only, bounded loops.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from benchlib import RELEASE, build, cli_env, q, sandbox


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    with sandbox("--devices", str(args.devices), "--releases", "5") as sb:
        get = sb.get
        fleet = sb.newest_fleet()
        rels = get("/v7/release?" + q(
            f"$select=id,commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'"
            "&$orderby=id asc&$top=2"))["d"]

        def pinned_to(rel_id):
            flt = "is_pinned_on__release eq null" if rel_id is None else f"is_pinned_on__release eq {rel_id}"
            return get("/v7/device/$count?" + q(f"$filter=belongs_to__application eq {fleet['id']} and {flt}"))["d"]

        env = cli_env(sb)
        slug = fleet["slug"]
        results = {"pin": [], "track": []}
        reqs = {"pin": [], "track": []}
        rss = {"pin": [], "track": []}
        for run in range(args.runs):
            rel = rels[run % len(rels)]
            for name, argv, expect in [
                ("pin", [balena, "device", "pin", "--fleet", slug, rel["commit"]], rel["id"]),
                ("track", [balena, "device", "track-fleet", "--fleet", slug], None),
            ]:
                before = sb.log_count()
                t0 = time.perf_counter()
                p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                err = p.stderr.read()
                _, status, usage = os.wait4(p.pid, 0)
                wall = time.perf_counter() - t0
                code = os.waitstatus_to_exitcode(status)
                if code != 0:
                    raise SystemExit(f"{' '.join(argv)} exited {code}: {err.decode()}")
                rss[name].append(usage.ru_maxrss / 1024.0)
                time.sleep(0.05)
                n = sb.log_count() - before
                got = pinned_to(expect)
                if got != args.devices:
                    raise SystemExit(f"{name}: expected {args.devices} devices in the new state, found {got}")
                results[name].append(wall)
                reqs[name].append(n)

        print(f"{args.devices} devices in fleet `{slug}`; {args.runs} runs each, every run checked on the server.\n")
        print("| command | median s | max s | peak RSS MiB | requests | requests per 100 devices |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, label in [("pin", "`balena device pin --fleet F <commit>`"),
                            ("track", "`balena device track-fleet --fleet F`")]:
            r = reqs[name]
            print(f"| {label} | {statistics.median(results[name]):.2f} | {max(results[name]):.2f} | "
                  f"{max(rss[name]):.1f} | {max(r)} | {max(r) * 100 / args.devices:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
