#!/usr/bin/env python3
"""Benchmark of balena-sandbox (issue 2): seeds 100,000 devices, then measures the p50 and p99
latency of the SDK-style pin PATCH and of filtered device lists with $expand.

Usage: scripts/bench-sandbox.py [--devices N] [--releases M] [--iterations K]

It builds the release binary, starts `balena-sandbox` on 127.0.0.1 with a temporary SQLite
file, talks to it over one keep-alive connection (stdlib http.client, so the figures include a
little client overhead), prints a Markdown table for BENCHMARKS.md and stops the sandbox.
Loopback only, bounded loops.
"""
import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse

from benchlib import TOKEN, build, q, sandbox


def pct(samples, p):
    s = sorted(samples)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


class Api:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}

    def req(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        dt = (time.perf_counter() - t0) * 1000.0
        if resp.status >= 300:
            raise SystemExit(f"{method} {path} -> {resp.status}: {raw[:300]!r}")
        return dt, (json.loads(raw) if raw else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--releases", type=int, default=50)
    ap.add_argument("--iterations", type=int, default=2000)
    args = ap.parse_args()

    build("-p", "balena-sandbox")
    t0 = time.perf_counter()
    with sandbox("--devices", str(args.devices), "--releases", str(args.releases)) as sb:
        seed_s = time.perf_counter() - t0
        api = Api(sb.base)
        _, apps = api.req("GET", "/v7/application?" + q("$select=id,slug&$orderby=id desc&$top=1"))
        fleet = apps["d"][0]
        fid = fleet["id"]
        _, rels = api.req("GET", "/v7/release?" + q(f"$select=id,commit&$filter=belongs_to__application eq {fid} and status eq 'success'&$top=2"))
        r_ids = [r["id"] for r in rels["d"]]
        _, devs = api.req("GET", "/v7/device?" + q(f"$select=id,uuid&$filter=belongs_to__application eq {fid}&$top={args.iterations}"))
        devices = devs["d"]
        _, count = api.req("GET", "/v7/device/$count?" + q(f"$filter=belongs_to__application eq {fid}"))

        # SDK-style pin: PATCH /v7/device?$filter=id in (N) {"is_pinned_on__release": R}
        pin = []
        for i in range(args.iterations):
            d = devices[i % len(devices)]
            path = "/v7/device?" + q(f"$filter=id in ({d['id']})")
            pin.append(api.req("PATCH", path, {"is_pinned_on__release": r_ids[i % len(r_ids)]})[0])

        # The CLI's device lookup: unique uuid prefix, with $expand.
        lookup = []
        for i in range(args.iterations):
            prefix = devices[(i * 7) % len(devices)]["uuid"][:8]
            path = "/v7/device?" + q(
                f"$filter=startswith(uuid,'{prefix}')&$top=10&$select=id,uuid,device_name"
                "&$expand=belongs_to__application($select=id,slug),is_pinned_on__release($select=id,commit)")
            lookup.append(api.req("GET", path)[0])

        # A page of a fleet's pinned devices with $expand, ordered.
        page = []
        for i in range(max(1, args.iterations // 4)):
            path = "/v7/device?" + q(
                f"$filter=belongs_to__application eq {fid} and is_pinned_on__release eq {r_ids[i % len(r_ids)]}"
                "&$select=id,uuid,device_name,is_running__release&$orderby=device_name asc&$top=100"
                "&$expand=is_pinned_on__release($select=id,commit),should_be_running__release($select=id,commit)")
            page.append(api.req("GET", path)[0])

        rows = [
            ("pin PATCH `device?$filter=id in (N)`", pin),
            ("device lookup `startswith(uuid)` + `$expand`", lookup),
            ("fleet device page: `$filter` + `$orderby` + `$top=100` + 2 `$expand`", page),
        ]
        print(f"Seeded fleet `{fleet['slug']}`: {count['d'] if isinstance(count, dict) else count} devices, "
              f"{args.releases} releases; start-up incl. seeding {seed_s:.2f} s.\n")
        print("| request | n | p50 ms | p99 ms | mean ms |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, s in rows:
            print(f"| {name} | {len(s)} | {pct(s, 50):.2f} | {pct(s, 99):.2f} | {statistics.mean(s):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
