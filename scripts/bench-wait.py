#!/usr/bin/env python3
"""Benchmark of `--wait` (issue 10): what `balena device pin --fleet F <commit> --wait` costs
while nothing changes, on a fleet of 10,000 devices.

The sandbox runs with `--simulate-updates 1h`: every device is online and reaches its target
release an hour after the target changes, so during a run nothing changes and the wait ends
with its timeout (exit 8, expected). Each run pins the fleet's devices to the other of two
releases (a real change every time, checked on the server), once with
`--wait --timeout T` and once without, interleaved.

The sandbox's request log (--log, one JSON line per request) is read while the command runs,
and each request is stamped with the time it appeared. Requests closer together than --gap
seconds form a burst: the first burst holds the pin itself and the wait's first look, the last
one what happens at the timeout, the bursts between are the polls while nothing changes. The
table gives the requests per such poll (median and max), the number of polls and the seconds
between them, the requests of the pin alone (the run without --wait), of the wait's first look
(first burst minus the pin) and at the timeout, and peak RSS (max over the runs, GNU time's
%M) with and without --wait. The official CLI has no --wait: no official columns.

Usage: scripts/bench-wait.py [--devices N] [--runs R] [--timeout DURATION] [--gap S] [--json]

With --json, both commands (with and without --wait) print their --json result documents.

Defaults: 10,000 devices, 2 runs of each, a 10 s timeout, bursts split at 0.25 s.

Builds the release binaries, starts the sandbox on 127.0.0.1 with a temporary database, prints
a Markdown table for BENCHMARKS.md and stops the sandbox. Loopback only, bounded loops.
"""
import argparse
import os
import subprocess
import sys
import time

from benchlib import RELEASE, LogTail, build, cli_env, fmt, measure, median, q, sandbox


def bursts(seen, gap):
    out = []
    for t, e in seen:
        if out and t - out[-1][-1][0] <= gap:
            out[-1].append((t, e))
        else:
            out.append([(t, e)])
    return out


def vm_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def phases(argv, env, log):
    """One --wait run sampled every 5 ms from /proc: (peak RSS MiB up to the pin's last
    PATCH, peak RSS MiB after it, i.e. while waiting). The wait sends no PATCH, so the last
    one in the request log ends the pin. Bounded by the command's own --timeout."""
    tail = LogTail(log)
    tail.start()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    deadline = time.monotonic() + 600
    while p.poll() is None and time.monotonic() < deadline:
        r = vm_rss_kib(p.pid)
        if r:
            samples.append((time.monotonic(), r))
        time.sleep(0.005)
    if p.poll() is None:
        p.kill()
    p.wait()
    seen = tail.finish()
    patches = [t for t, e in seen if e["method"] == "PATCH"]
    if not patches or not samples:
        return None
    # A line is stamped when the tail reads it (every 10 ms), after the answer went out.
    end = max(patches)
    pin = [r for t, r in samples if t <= end]
    wait = [r for t, r in samples if t > end]
    if not pin or not wait:
        return None
    return max(pin) / 1024, max(wait) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--timeout", default="10s", help="--timeout of the --wait runs")
    ap.add_argument("--gap", type=float, default=0.25, help="seconds of quiet that end a burst")
    ap.add_argument("--json", action="store_true", help="run both commands with --json")
    args = ap.parse_args()

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    with sandbox("--devices", str(args.devices), "--releases", "5", "--simulate-updates", "1h") as sb:
        fleet = sb.newest_fleet()
        slug = fleet["slug"]
        rels = sb.get("/v7/release?" + q(
            f"$select=id,commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'"
            "&$orderby=id asc&$top=2"))["d"]
        env = cli_env(sb)

        def pinned_to(rel_id):
            return sb.get("/v7/device/$count?" + q(
                f"$filter=belongs_to__application eq {fleet['id']} and is_pinned_on__release eq {rel_id}"))["d"]

        res = {k: {"wall": [], "rss": [], "seen": []} for k in ("wait", "nowait")}
        notes, turn = [], 0
        for run in range(args.runs):
            for key in ("wait", "nowait"):
                rel = rels[turn % 2]
                turn += 1
                argv = [balena, "device", "pin", "--fleet", slug, rel["commit"]] + (["--json"] if args.json else [])
                if key == "wait":
                    argv += ["--wait", "--timeout", args.timeout]
                tail = LogTail(sb.log)
                tail.start()
                wall, rss, code, err = measure(argv, env, sb.tmp, ok=(0, 8))
                seen = tail.finish()
                if key == "wait" and code != 8:
                    notes.append(f"a --wait run exited {code}, not 8 (timeout): {err.strip()[-500:]}")
                if pinned_to(rel["id"]) != args.devices:
                    raise SystemExit(f"{key}: not all {args.devices} devices are pinned to release {rel['id']}")
                res[key]["wall"].append(wall)
                res[key]["rss"].append(rss)
                res[key]["seen"].append(seen)

        pin_reqs = [len(s) for s in res["nowait"]["seen"]]
        per_poll, polls, intervals, first, last = [], [], [], [], []
        shapes = {}
        for seen in res["wait"]["seen"]:
            bs = bursts(seen, args.gap)
            mid = bs[1:-1]
            polls.append(len(mid))
            per_poll += [len(b) for b in mid]
            intervals += [b[0][0] - a[0][0] for a, b in zip(mid, mid[1:])]
            first.append(len(bs[0]) - median(pin_reqs))
            last.append(len(bs[-1]) if len(bs) > 1 else 0)
            for b in mid:
                for _, e in b:
                    shapes[e["method"] + " " + e["path"]] = shapes.get(e["method"] + " " + e["path"], 0) + 1
        print(f"{args.devices:,} devices in fleet `{slug}`, sandbox with --simulate-updates 1h (nothing "
              f"reaches its target during a run); {args.runs} runs with `--wait --timeout {args.timeout}` "
              f"and {args.runs} without, interleaved, each pin checked on the server. Bursts split at "
              f"{args.gap} s of quiet.\n")
        print("| command | median s | peak RSS MiB | requests per run | polls while nothing changes | "
              "s between polls | requests per poll (median / max) | wait's first look | at the timeout |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        w, n = res["wait"], res["nowait"]
        js = " --json" if args.json else ""
        print(f"| `balena device pin --fleet F <commit>{js}` | {median(n['wall']):.2f} | {max(n['rss']):.1f} | "
              f"{fmt(median(pin_reqs), '.0f')} | | | | | |")
        print(f"| `balena device pin --fleet F <commit>{js} --wait --timeout {args.timeout}` | {median(w['wall']):.2f} | "
              f"{max(w['rss']):.1f} | {fmt(median([len(s) for s in w['seen']]), '.0f')} | {fmt(median(polls), '.0f')} | "
              f"{fmt(median(intervals))} | {fmt(median(per_poll), '.0f')} / {max(per_poll) if per_poll else 'n/a'} | "
              f"{fmt(median(first), '.0f')} | {fmt(median(last), '.0f')} |")
        print(f"\nPeak RSS with / without --wait: {max(w['rss']) / max(n['rss']):.2f} (highest of the runs), "
              f"{median(w['rss']) / median(n['rss']):.2f} (medians). "
              "Requests seen in the polls while nothing changes: "
              + ", ".join(f"{k} ({v})" for k, v in sorted(shapes.items())) + ".")
        # The same process, sampled: the wait's own peak against the pin's, with no noise
        # between processes.
        rows = []
        for run in range(args.runs):
            rel = rels[turn % 2]
            turn += 1
            argv = [balena, "device", "pin", "--fleet", slug, rel["commit"], "--wait", "--timeout",
                    args.timeout] + (["--json"] if args.json else [])
            r = phases(argv, env, sb.log)
            if r:
                rows.append(r)
        if rows:
            print("\nOne process, its RSS sampled every 5 ms from /proc (a --wait run per row): the "
                  "pin's peak (up to its last PATCH) and the wait's peak (after it).\n")
            print("| run | pin phase peak RSS MiB | wait phase peak RSS MiB | wait / pin |")
            print("| ---: | ---: | ---: | ---: |")
            for i, (a, b) in enumerate(rows, 1):
                print(f"| {i} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
        for note in dict.fromkeys(notes):
            print(f"\n- {note}")


if __name__ == "__main__":
    sys.exit(main())
