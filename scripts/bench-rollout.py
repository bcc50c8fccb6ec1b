#!/usr/bin/env python3
"""Benchmark of `balena fleet rollout` (issue 11): a fleet of 10,000 devices in the sandbox,
with simulated updates of 1 s, rolled out in four waves.

Each run starts a fresh release-build sandbox (`--devices N --releases 5 --simulate-updates U`,
a temporary SQLite file, a request log) whose one scale fleet tracks its latest release, and
rolls an older release out to it with `--steps 10%,25%,50%,100% --soak S --json`. The run must
end with exit 0, the fleet pinned to the release, every device on it and no device pinned,
all checked on the server.

The sandbox's request log is read while the command runs (each line stamped with the time it
appeared) and cut into the rollout's phases by the writes of its state tag (`application_tag`
`balena-rs.rollout`): the value a write replaces is in its `$filter`, so the value it wrote
is the one the next write replaces. Per wave the table gives:
- its devices (from the `--json` report) and its seconds from its first request to its last;
- its requests, and how many of them poll the wave's health while it is watched (step `g`:
  the device pages of the wave with `is_running__release`, plus the state tag reads that
  check for an abort and read back the state's writes);
- the polls (the health page sets), the requests per poll, and those per 100 of the wave's
  devices per poll (the goal: at most 1).

Then, per run: the wall time, the simulated time the rollout cannot avoid (per wave, the
simulated update time plus the soak), the wall time beyond it, all requests, and the peak RSS
(GNU time's %M; the goal: at most 40 MiB). The official CLI has no rollout: no official
columns.

Usage: scripts/bench-rollout.py [--devices N] [--runs R] [--update DUR_S] [--soak DUR_S]
Defaults: 10,000 devices, 3 runs, 1 s updates, a 1 s soak.

Loopback only; every wait is bounded (a run is killed after 10 minutes).
"""
import argparse
import json
import math
import os
import sys
import urllib.parse

from benchlib import RELEASE, LogTail, build, cli_env, fmt, measure, median, q, sandbox

STEPS = "10%,25%,50%,100%"
STATE_TAG = "balena-rs.rollout"


def state_of(value):
    """The fields of a state tag value `brs-rollout/1;k=v;…` as a dict."""
    return dict(p.split("=", 1) for p in value.split(";")[1:] if "=" in p)


def replaced_value(entry):
    """The state tag value a conditional PATCH replaces (from its `value eq '…'` filter)."""
    flt = urllib.parse.unquote(entry.get("query") or "")
    i = flt.find("value eq '")
    if i < 0:
        return None
    return flt[i + len("value eq '"):].rsplit("'", 1)[0].replace("''", "'")


def is_tag_write(e):
    return e["path"] == "/v7/application_tag" and e["method"] in ("POST", "PATCH")


def is_tag_read(e):
    return e["path"] == "/v7/application_tag" and e["method"] == "GET"


def is_health_page(e):
    return (e["method"] == "GET" and e["path"] == "/v7/device"
            and "is_running__release" in urllib.parse.unquote(e.get("query") or ""))


def phases(seen):
    """[(wave index or None, step code or None, [(t, entry)])]: the log cut at each state write,
    each piece under the wave and the step (`p` pinning, `g` watching, `h` healthy) of the state
    that write left (None before the first write and after the end)."""
    writes = [i for i, (_, e) in enumerate(seen) if is_tag_write(e)]
    after = []
    for n, i in enumerate(writes):
        nxt = replaced_value(seen[writes[n + 1]][1]) if n + 1 < len(writes) else None
        st = state_of(nxt) if nxt else {}
        running = st.get("ph") == "run" and "w" in st
        after.append((int(st["w"]), st.get("st")) if running else (None, None))
    out, cur, start = [], (None, None), 0
    for n, i in enumerate(writes):
        out.append((*cur, seen[start:i + 1]))
        cur, start = after[n], i + 1
    out.append((*cur, seen[start:]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--update", type=float, default=1.0, help="simulated update time, seconds")
    ap.add_argument("--soak", type=float, default=1.0, help="--soak of each wave, seconds")
    args = ap.parse_args()

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    runs = []
    for run in range(args.runs):
        with sandbox("--devices", str(args.devices), "--releases", "5",
                     "--simulate-updates", f"{args.update}s") as sb:
            fleet = sb.newest_fleet()
            fid, slug = fleet["id"], fleet["slug"]
            rels = sb.get("/v7/release?" + q(
                f"$select=id,commit&$filter=belongs_to__application eq {fid} and status eq 'success'"
                "&$orderby=id desc&$top=2"))["d"]
            rel = rels[1]  # older than the fleet's latest: the fleet is frozen, then pinned to it
            env = cli_env(sb)
            out = os.path.join(sb.tmp, "report.json")
            tail = LogTail(sb.log)
            tail.start()
            wall, rss, _, _ = measure(
                [balena, "fleet", "rollout", slug, rel["commit"], "--steps", STEPS,
                 "--soak", f"{args.soak}s", "--json"], env, sb.tmp, stdout=out, timeout=600)
            seen = tail.finish()
            with open(out) as f:
                report = json.load(f)

            def count(flt):
                return sb.get("/v7/device/$count?" + q(f"$filter=belongs_to__application eq {fid} and {flt}"))["d"]

            app = sb.get(f"/v7/application({fid})?" + q("$select=should_track_latest_release,should_be_running__release"))["d"][0]
            checks = {
                "result completed": report.get("result") == "completed",
                "fleet pinned to the release": (not app["should_track_latest_release"]
                                                and app["should_be_running__release"]["__id"] == rel["id"]),
                "every device runs the release": count(f"is_running__release eq {rel['id']}") == args.devices,
                "no device pinned": count("is_pinned_on__release ne null") == 0,
            }
            bad = [k for k, ok in checks.items() if not ok]
            if bad:
                sys.exit(f"run {run + 1}: the rollout's end state is wrong: {', '.join(bad)}")

            sizes = [len(w["devices"]) for w in report["waves"]]
            waves = []
            for k, n in enumerate(sizes):
                cut = phases(seen)
                entries = [x for w, _, p in cut if w == k for x in p]
                watch = [e for w, st, p in cut if w == k and st == "g" for _, e in p]
                health = sum(1 for e in watch if is_health_page(e))
                reads = sum(1 for e in watch if is_tag_read(e))
                pages = max(1, math.ceil(n / 1000))
                polls = health // pages
                per_poll = (health + reads) / polls if polls else None
                times = [t for t, _ in entries]
                waves.append({
                    "devices": n, "seconds": (max(times) - min(times)) if times else 0.0,
                    "requests": len(entries), "polling": health + reads, "polls": polls,
                    "per_poll": per_poll,
                    "per_100": per_poll / (n / 100) if per_poll is not None else None,
                })
            simulated = len(sizes) * (args.update + args.soak)
            runs.append({"wall": wall, "rss": rss, "requests": len(seen), "simulated": simulated,
                         "waves": waves})
            print(f"run {run + 1}: {wall:.2f} s, {rss:.1f} MiB, {len(seen)} requests", file=sys.stderr)

    print(f"`scripts/bench-rollout.py --devices {args.devices} --runs {args.runs} --update {args.update:g} "
          f"--soak {args.soak:g}`: `balena fleet rollout <fleet> <release> --steps {STEPS} "
          f"--soak {args.soak:g}s`, a fresh sandbox per run; medians over the runs.\n")
    print("| wave | devices | seconds | requests | polling requests | polls | requests per poll "
          "| per 100 devices per poll |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in range(len(runs[0]["waves"])):
        col = [r["waves"][k] for r in runs]
        m = {key: median([c[key] for c in col if c[key] is not None]) for key in col[0]}
        print(f"| {k + 1} ({STEPS.split(',')[k]}) | {m['devices']:.0f} | {fmt(m['seconds'])} "
              f"| {m['requests']:.0f} | {m['polling']:.0f} | {m['polls']:.0f} | {fmt(m['per_poll'])} "
              f"| {fmt(m['per_100'], '.3f')} |")
    print()
    print("| run | wall s | simulated s (update + soak per wave) | beyond s | requests | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for i, r in enumerate(runs):
        print(f"| {i + 1} | {r['wall']:.2f} | {r['simulated']:.2f} | {r['wall'] - r['simulated']:.2f} "
              f"| {r['requests']} | {r['rss']:.1f} |")
    walls = [r["wall"] - r["simulated"] for r in runs]
    worst = max(w["per_100"] or 0 for r in runs for w in r["waves"])
    peak = max(r["rss"] for r in runs)
    print(f"\nmedian beyond the simulated time: {median(walls):.2f} s; worst requests per 100 devices "
          f"per poll: {worst:.3f} (goal ≤ 1: {'met' if worst <= 1 else 'NOT met'}); peak RSS "
          f"{peak:.1f} MiB (goal ≤ 40: {'met' if peak <= 40 else 'NOT met'})")


if __name__ == "__main__":
    main()
