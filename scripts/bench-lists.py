#!/usr/bin/env python3
"""Benchmark of the list commands (issue 10) against a local balena-sandbox, side by side with
the official balena CLI and a floor:

  `balena device list --fleet F` and `--json` on a fleet of 100,000 devices,
  `balena device list --fleet F` on a fleet of 10,000 devices,
  `balena release list <fleet>` and `--json` on a fleet of 10,000 releases.

For each command: median wall time and peak RSS (max over the runs, GNU time's %M) of ours, of
the official CLI (npm balena-cli 25.2.6 through /work/shared/peers/run-balena-cli.sh, when it is
installed: otherwise its columns say n/a) and of the floor, HTTP requests per run (from the
sandbox's --log), and the ratios ours/official and ours/floor. The floor is one curl process
sending the same GET requests our CLI sends (taken from a `--debug` warm-up run, checked against
the sandbox's log) on one keep-alive connection, bodies to /dev/null: the cost of fetching the
data, without parsing or printing it. Every measured run's stdout goes to a file and is checked:
a table must have one line per device or release plus the header, a JSON array one element per
device or release (a mismatch is listed under the table, not hidden).

Usage: scripts/bench-lists.py [--devices-large N] [--devices-small N] [--releases M]
                              [--runs R] [--official-runs O] [--official-runs-small O]
                              [--official PATH] [--skip-large]

Defaults: 100,000 and 10,000 devices, 10,000 releases; 3 runs of ours and of the floor per
command, 1 run of the official CLI per command at 100,000 devices (it takes tens of seconds
there) and 3 at 10,000. The runs of ours, the floor and the official CLI are interleaved, so
they see the same machine load. --skip-large leaves out the 100,000-device fleet.

Builds the release binaries, starts one sandbox at a time on 127.0.0.1 with a temporary
database (`--devices N --releases 5` for the large fleet, `--devices N --releases M` for the
other), prints a Markdown table for BENCHMARKS.md and stops each sandbox. Loopback only,
bounded loops.
"""
import argparse
import json
import os
import sys

from benchlib import (OFFICIAL_RUNNER, RELEASE, build, cli_env, curl_replay, debug_requests,
                      fmt, measure, median, official_cli, ratio, sandbox)


def check_output(path, kind, n):
    """None when the output at `path` holds n items as `kind` ('table' or 'json'), else a note."""
    if kind == "table":
        with open(path, "rb") as f:
            lines = sum(1 for line in f if line.strip())
        return None if lines == n + 1 else f"{lines} non-empty lines, expected {n + 1}"
    try:
        with open(path) as f:
            got = len(json.load(f))
    except (ValueError, TypeError) as e:
        return f"not a JSON array: {e}"
    return None if got == n else f"{got} JSON elements, expected {n}"


def run_cases(sb, cases, args, official_runs, rows, notes):
    """Measures each case (label, argv tail, kind, n) on this sandbox: ours, floor, official."""
    balena = os.path.join(RELEASE, "balena")
    env = cli_env(sb)
    off = official_cli(sb, args.official)
    out = os.path.join(sb.tmp, "out")
    for label, tail, kind, n in cases:
        # Warm-up of ours with --debug: the requests it sends become the floor.
        before = len(sb.log_entries())
        _, _, _, err = measure([balena, "--debug", *tail], env, sb.tmp, stdout=out)
        reqs = debug_requests(err)
        logged = sb.log_entries()[before:]
        if [(m, u.split("?")[0].split(sb.base, 1)[-1]) for m, u, _ in reqs] != \
                [(e["method"], e["path"]) for e in logged]:
            notes.append(f"{label}: the --debug requests differ from the sandbox log; floor skipped")
            reqs = []
        if any(m != "GET" for m, _, _ in reqs):
            notes.append(f"{label}: our CLI sent a non-GET request; floor skipped")
            reqs = []
        floor = curl_replay(reqs) if reqs else None
        res = {k: {"wall": [], "rss": [], "reqs": []} for k in ("ours", "floor", "official")}
        for i in range(max(args.runs, official_runs)):
            plan = []
            if floor and i < args.runs:
                plan.append(("floor", floor, env))
            if i < args.runs:
                plan.append(("ours", [balena, *tail], env))
            if off and i < official_runs:
                plan.append(("official", off.argv(sb.base, *tail), off.env))
            for who, argv, e in plan:
                before = sb.log_count()
                if who == "official":
                    try:
                        wall, rss, code, err = measure(argv, e, sb.tmp, stdout=out, ok=range(256),
                                                       timeout=args.official_timeout)
                    except Exception as ex:  # a timeout: note it and go on
                        notes.append(f"{label}: official CLI: {ex}")
                        continue
                    if code != 0:
                        notes.append(f"{label}: official CLI exited {code}: {err.strip()[-1500:]}")
                        continue
                else:
                    wall, rss, _, _ = measure(argv, e, sb.tmp, stdout=out)
                res[who]["reqs"].append(sb.log_count() - before)
                if who != "floor":
                    bad = check_output(out, kind, n)
                    if bad:
                        notes.append(f"{label}: {who} output: {bad}")
                res[who]["wall"].append(wall)
                res[who]["rss"].append(rss)
        o, f, x = res["ours"], res["floor"], res["official"]
        mo, mf, mx = median(o["wall"]), median(f["wall"]), median(x["wall"])
        ro = max(o["rss"]) if o["rss"] else None
        rx = max(x["rss"]) if x["rss"] else None
        rows.append(f"| {label} | {fmt(mo)} | {fmt(ro, '.1f')} | {fmt(median(o['reqs']), '.0f')} | "
                    f"{fmt(mx)} | {fmt(rx, '.1f')} | {fmt(median(x['reqs']), '.0f')} | {fmt(mf)} | "
                    f"{ratio(mo, mx)} | {ratio(ro, rx)} | {ratio(mo, mf)} | "
                    f"{len(o['wall'])}/{len(x['wall'])}/{len(f['wall'])} |")
        print(f"  done: {label}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices-large", type=int, default=100_000)
    ap.add_argument("--devices-small", type=int, default=10_000)
    ap.add_argument("--releases", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3, help="runs of ours and of the floor per command")
    ap.add_argument("--official-runs", type=int, default=1, help="official runs per command, large fleet")
    ap.add_argument("--official-runs-small", type=int, default=3,
                    help="official runs per command, 10,000 devices / releases")
    ap.add_argument("--official-timeout", type=float, default=900, help="seconds per official run")
    ap.add_argument("--official", default=OFFICIAL_RUNNER, help="run-balena-cli.sh")
    ap.add_argument("--skip-large", action="store_true", help="leave out the large fleet")
    args = ap.parse_args()

    build("--workspace", "--bins")
    rows, notes = [], []
    if not args.skip_large:
        n = args.devices_large
        with sandbox("--devices", str(n), "--releases", "5") as sb:
            slug = sb.newest_fleet()["slug"]
            run_cases(sb, [
                (f"`device list --fleet F`, {n:,} devices", ["device", "list", "--fleet", slug], "table", n),
                (f"`device list --fleet F --json`, {n:,} devices",
                 ["device", "list", "--fleet", slug, "--json"], "json", n),
            ], args, args.official_runs, rows, notes)
    n, m = args.devices_small, args.releases
    with sandbox("--devices", str(n), "--releases", str(m)) as sb:
        slug = sb.newest_fleet()["slug"]
        run_cases(sb, [
            (f"`device list --fleet F`, {n:,} devices", ["device", "list", "--fleet", slug], "table", n),
            (f"`release list <fleet> --json`, {m:,} releases", ["release", "list", slug, "--json"], "json", m),
            (f"`release list <fleet>`, {m:,} releases", ["release", "list", slug], "table", m),
        ], args, args.official_runs_small, rows, notes)

    print(f"Runs per command: ours and floor {args.runs}; official {args.official_runs} on the "
          f"{args.devices_large:,}-device fleet, {args.official_runs_small} on the others. Times are "
          "medians in seconds, peak RSS the max over the runs. Floor: one curl process sending our "
          "CLI's GET requests on one connection, bodies to /dev/null.\n")
    print("| command | ours s | ours peak RSS MiB | ours requests | official s | official peak RSS MiB | "
          "official requests | floor s | ours / official time | ours / official RSS | ours / floor time | "
          "runs ours/official/floor |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(r)
    if notes:
        print("\nNotes:\n")
        for note in dict.fromkeys(notes):
            print(f"- {note}")


if __name__ == "__main__":
    sys.exit(main())
