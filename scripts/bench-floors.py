#!/usr/bin/env python3
"""Benchmark of our fixed costs against their floors (issue 10), side by side with the official
balena CLI:

  `balena --version`                 against `/bin/true` (process start-up under the harness),
  `balena fleet pin <fleet> <commit>` against one curl process sending the same two requests
                                      our CLI sends (the fleet-and-release GET, then the PATCH),
                                      on one keep-alive connection; and against `/bin/true` plus
                                      the same two requests sent from this (already running)
                                      Python process on a new http.client connection: curl's own
                                      start-up (libcurl, OpenSSL) costs more than ours, so the
                                      second floor is the lower bound.

The two requests come from `balena --debug fleet pin` warm-up runs, one per commit (URL and
PATCH body as our CLI sent them), checked against the sandbox's request log. Every pin (ours,
curl's and the official CLI's) alternates between two successful releases, so each one is a
real change, and is checked on the server afterwards.

For each row: the median and p90 wall time of ours, the median of the official CLI (npm
balena-cli 25.2.6 through /work/shared/peers/run-balena-cli.sh, when it is installed: otherwise
n/a) and of the floor, the ratios ours/floor, official/floor and ours/official, peak RSS (max
over the runs, GNU time's %M) and requests per run (from the sandbox's --log).

Usage: scripts/bench-floors.py [--runs R] [--official-runs O] [--releases M] [--official PATH]

Defaults: 30 runs of ours and of each floor, 10 of the official CLI (about 0.3 s each), a fleet
of 100 devices and 100 releases. All runs are interleaved (floor, ours, official, in turn), so
they see the same machine load.

Builds the release binaries, starts a sandbox on 127.0.0.1 with a temporary database, prints a
Markdown table for BENCHMARKS.md and stops the sandbox. Loopback only, bounded loops.
"""
import argparse
import http.client
import os
import sys
import time
import urllib.parse

from benchlib import (OFFICIAL_RUNNER, RELEASE, TOKEN, build, cli_env, curl_replay, debug_requests,
                      fmt, measure, median, official_cli, q, ratio, sandbox)


def p90(xs):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[int(0.9 * (len(xs) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30, help="runs of ours and of each floor")
    ap.add_argument("--official-runs", type=int, default=10)
    ap.add_argument("--releases", type=int, default=100)
    ap.add_argument("--official", default=OFFICIAL_RUNNER, help="run-balena-cli.sh")
    args = ap.parse_args()

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    with sandbox("--devices", "100", "--releases", str(args.releases)) as sb:
        fleet = sb.newest_fleet()
        slug = fleet["slug"]
        commits = [r["commit"] for r in sb.get("/v7/release?" + q(
            f"$select=commit&$filter=belongs_to__application eq {fleet['id']} and status eq 'success'"
            "&$orderby=id asc&$top=2"))["d"]]
        env = cli_env(sb)
        off = official_cli(sb, args.official)

        def target():
            app = sb.get(f"/v7/application({fleet['id']})?" + q(
                "$select=should_track_latest_release&$expand=should_be_running__release($select=commit)"))["d"][0]
            rel = app["should_be_running__release"]
            return None if app["should_track_latest_release"] or not rel else rel[0]["commit"]

        # Warm-up: pin to each commit once with --debug; what our CLI sent becomes the floor.
        replay = {}
        for c in commits:
            before = len(sb.log_entries())
            _, _, _, err = measure([balena, "--debug", "fleet", "pin", slug, c], env, sb.tmp)
            reqs = debug_requests(err)
            logged = [(e["method"], e["path"]) for e in sb.log_entries()[before:]]
            sent = [(m, u.split("?")[0].split(sb.base, 1)[-1]) for m, u, _ in reqs]
            if sent != logged or [m for m, _ in sent] != ["GET", "PATCH"]:
                raise SystemExit(f"fleet pin sent {sent}, the sandbox logged {logged}: expected a GET and a PATCH")
            replay[c] = reqs
        print(f"Requests of `balena fleet pin` (from --debug and the sandbox log): "
              f"{', '.join(f'{m} {p}' for m, p in sent)}.\n")

        res = {k: {"wall": [], "rss": [], "reqs": []}
               for k in ("true", "ours-v", "off-v", "curl", "inproc", "ours-pin", "off-pin")}
        turn = [0]  # pins alternate between the two commits, so that each one changes something

        def in_process(reqs):
            """The requests from this process on a new connection: (wall s, peak RSS n/a)."""
            u = urllib.parse.urlparse(sb.base)
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            for method, url, body in reqs:
                headers = {"Authorization": "Bearer " + TOKEN}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                conn.request(method, url[len(sb.base):], body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status >= 300:
                    raise SystemExit(f"{method} {url}: {r.status}")
            conn.close()
            return time.perf_counter() - t0, None

        def run(key, argv, e, pin=False):
            c = None
            if pin:
                c = commits[turn[0] % 2]
                turn[0] += 1
                argv = argv(c)
            before = sb.log_count()
            if key == "inproc":
                wall, rss = in_process(argv)
            else:
                wall, rss, _, _ = measure(argv, e, sb.tmp)
            res[key]["reqs"].append(sb.log_count() - before)
            res[key]["wall"].append(wall * 1000.0)
            res[key]["rss"].append(rss)
            if pin and target() != c:
                raise SystemExit(f"{key}: the fleet is not pinned to {c} after the run")

        for i in range(max(args.runs, args.official_runs if off else 0)):
            mine, theirs = i < args.runs, off is not None and i < args.official_runs
            if mine:
                run("true", ["/bin/true"], env)
                run("ours-v", [balena, "--version"], env)
            if theirs:
                run("off-v", off.argv(sb.base, "--version"), off.env)
            if mine:
                run("curl", lambda c: curl_replay(replay[c]), env, pin=True)
                run("inproc", lambda c: replay[c], env, pin=True)
                run("ours-pin", lambda c: [balena, "fleet", "pin", slug, c], env, pin=True)
            if theirs:
                run("off-pin", lambda c: off.argv(sb.base, "fleet", "pin", slug, c), off.env, pin=True)

        print(f"{args.runs} runs of ours and of each floor, {args.official_runs if off else 0} of the "
              f"official CLI, interleaved; sandbox fleet `{slug}` ({args.releases} releases). "
              "Times in ms (medians; p90 for ours).\n")
        print("| command | floor | floor ms | ours ms | ours p90 ms | official ms | ours / floor | "
              "official / floor | ours / official | ours peak RSS MiB | official peak RSS MiB | "
              "requests ours / official / floor |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        res["true+inproc"] = {"wall": [median(res["true"]["wall"]) + median(res["inproc"]["wall"])],
                              "reqs": res["inproc"]["reqs"]}
        for label, floor_label, f, o, x in [
            ("`balena --version`", "`/bin/true`", "true", "ours-v", "off-v"),
            ("`balena fleet pin <fleet> <commit>`", "1 curl process, the same 2 requests", "curl", "ours-pin", "off-pin"),
            ("`balena fleet pin <fleet> <commit>`", "`/bin/true` + the same 2 requests from a running "
             "process (medians added)", "true+inproc", "ours-pin", "off-pin"),
        ]:
            mf, mo, mx = median(res[f]["wall"]), median(res[o]["wall"]), median(res[x]["wall"])
            rx = max(res[x]["rss"]) if res[x]["rss"] else None
            reqs = " / ".join(fmt(median(res[k]["reqs"]), ".0f") for k in (o, x, f))
            print(f"| {label} | {floor_label} | {fmt(mf)} | {fmt(mo)} | {fmt(p90(res[o]['wall']))} | {fmt(mx)} | "
                  f"{ratio(mo, mf)} | {ratio(mx, mf)} | {ratio(mo, mx)} | {max(res[o]['rss']):.1f} | "
                  f"{fmt(rx, '.1f')} | {reqs} |")


if __name__ == "__main__":
    sys.exit(main())
