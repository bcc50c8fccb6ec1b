#!/usr/bin/env python3
"""Benchmark of concurrent reads in balena-sandbox (issue 10): the throughput of a filtered
device list with 1 client against 8 concurrent clients.

Goal: with 8 clients, at least 1.6x the throughput of 1 client, on a 2-core machine.

Usage: scripts/bench-sandbox-concurrency.py [--devices N] [--clients 1,8] [--seconds S]
                                            [--rounds R] [--top T]

Defaults: 10,000 devices, 1 and 8 clients, 4 s per measurement, 3 rounds, pages of 1,000
devices (the page size of the CLI's bulk commands; small pages measure HTTP and the Python
client more than the database).

It builds the release binary and starts two sandboxes on 127.0.0.1, each on its own temporary
SQLite file seeded with N devices in one fleet (`--devices N --releases 5`): one as it runs by
default (a writer connection and a pool of read-only connections), and one with `--readers 0`
(everything on the one writer connection, as the sandbox served before the pool), for
comparison in the same run. Each measurement runs C client threads, each with its own keep-alive
connection (stdlib http.client), for S seconds (and at most 200,000 requests each), sending
the page query of the CLI's bulk commands as keyset pages: the fleet's devices after a
changing id, with the pin expanded (the `$skip` pages of today's client, keyset by id as
issue 10 asks):

  GET /v7/device?$select=id,uuid,device_name&$filter=(belongs_to__application eq F) and (id gt K)
      &$expand=is_pinned_on__release($select=id,commit,raw_version)&$orderby=id asc&$top=T

Every answer must be a 200 with rows. The CPU time the sandbox process used during each
measurement (from /proc) is shown as the cores it kept busy. The rounds interleave both sandboxes
and all client counts, so they see the same machine load; the table gives the median req/s
over the rounds. Prints a Markdown table for BENCHMARKS.md and stops both sandboxes. Loopback
only, bounded loops.
"""
import argparse
import contextlib
import http.client
import os
import statistics
import sys
import threading
import time
import urllib.parse

from benchlib import TOKEN, build, q, sandbox

MAX_REQUESTS_PER_CLIENT = 200_000


def page_path(fleet_id, after, top):
    return "/v7/device?" + q(
        f"$select=id,uuid,device_name&$filter=(belongs_to__application eq {fleet_id}) and (id gt {after})"
        f"&$expand=is_pinned_on__release($select=id,commit,raw_version)&$orderby=id asc&$top={top}")


def client(base, paths, offset, start, deadline_box, out, idx):
    """One client thread: its own keep-alive connection, requests until the deadline."""
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Authorization": "Bearer " + TOKEN}
    n, err = 0, None
    try:
        start.wait(timeout=30)
        deadline = deadline_box[0]
        i = offset
        while n < MAX_REQUESTS_PER_CLIENT and time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or not body.startswith(b'{"d":[{'):
                err = f"GET {path} -> {resp.status}: {body[:200]!r}"
                break
            n += 1
    except Exception as e:  # noqa: BLE001 - reported by the caller
        err = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    out[idx] = (n, err)


def sandbox_pid(sb):
    """The pid of the balena-sandbox serving `sb` (its command line names its temp dir)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"balena-sandbox") and any(sb.tmp.encode() in a for a in args):
            return int(pid)
    return None


def cpu_seconds(pid):
    """User + system CPU seconds of `pid` so far (None if unknown)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def measure(base, paths, clients, seconds, pid=None):
    """Runs `clients` threads for `seconds`; answers (requests, elapsed seconds, sandbox
    cores busy or None)."""
    start = threading.Barrier(clients + 1)
    deadline_box = [0.0]
    out = [None] * clients
    threads = [
        threading.Thread(target=client, args=(base, paths, k * 997, start, deadline_box, out, k), daemon=True)
        for k in range(clients)
    ]
    for t in threads:
        t.start()
    c0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    deadline_box[0] = t0 + seconds
    start.wait(timeout=30)
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    c1 = cpu_seconds(pid)
    cores = (c1 - c0) / elapsed if c0 is not None and c1 is not None else None
    if any(t.is_alive() for t in threads):
        raise SystemExit("a client thread did not finish in time")
    errors = [e for _, e in out if e]
    if errors:
        raise SystemExit(f"{clients} clients: {errors[0]}")
    return sum(n for n, _ in out), elapsed, cores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--clients", default="1,8", help="comma-separated client counts (default 1,8)")
    ap.add_argument("--seconds", type=float, default=4.0, help="per measurement (default 4)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=1000, help="rows per page (default 1000)")
    args = ap.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    if not counts or min(counts) < 1 or max(counts) > 64:
        raise SystemExit("--clients: 1 to 64 each")
    if not 0 < args.seconds <= 60 or not 1 <= args.rounds <= 10:
        raise SystemExit("--seconds: up to 60; --rounds: 1 to 10")

    build("-p", "balena-sandbox")
    seed = ("--devices", str(args.devices), "--releases", "5")
    variants = [("pool (default)", ()), ("one connection (`--readers 0`)", ("--readers", "0"))]
    with contextlib.ExitStack() as stack:
        sbs = []
        for name, extra in variants:
            sb = stack.enter_context(sandbox(*seed, *extra))
            fleet = sb.newest_fleet()
            ids = [d["id"] for d in sb.get("/v7/device?" + q(
                f"$select=id&$filter=belongs_to__application eq {fleet['id']}&$orderby=id asc"))["d"]]
            if len(ids) < args.top * 2:
                raise SystemExit(f"only {len(ids)} devices seeded")
            # Keyset pages that each hold `top` rows: after ids spread over the fleet.
            last = len(ids) - args.top - 1
            afters = [ids[(k * 7919) % last] for k in range(1000)]
            paths = [page_path(fleet["id"], a, args.top) for a in afters]
            measure(sb.base, paths, 2, 0.5)  # warm-up: statement caches, page cache
            sbs.append((name, sb, paths, fleet, sandbox_pid(sb)))

        results = {(name, c): [] for name, *_ in sbs for c in counts}
        for r in range(args.rounds):
            for name, sb, paths, _, pid in sbs:
                for c in counts:
                    n, dt, cores = measure(sb.base, paths, c, args.seconds, pid)
                    results[(name, c)].append((n / dt, cores))
                    busy = "" if cores is None else f", sandbox {cores:.2f} cores busy"
                    print(f"round {r + 1}: {name}, {c} clients: {n} requests in {dt:.2f} s = {n / dt:.0f} req/s{busy}",
                          file=sys.stderr)

    fleet = sbs[0][3]
    print(f"Fleet `{fleet['slug']}` of {args.devices} devices; {args.rounds} rounds of {args.seconds:g} s per "
          f"measurement, interleaved; keyset pages of {args.top} devices with the pin expanded.\n")
    base_c = min(counts)
    print(f"| sandbox | clients | req/s (median) | req/s per round | sandbox cores busy (median) "
          f"| vs {base_c} client{'s' if base_c > 1 else ''} |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for name, *_ in sbs:
        med = {c: statistics.median(x[0] for x in results[(name, c)]) for c in counts}
        for c in counts:
            per_round = ", ".join(f"{x[0]:.0f}" for x in results[(name, c)])
            busy = [x[1] for x in results[(name, c)] if x[1] is not None]
            busy = f"{statistics.median(busy):.2f}" if busy else "n/a"
            ratio = med[c] / med[base_c]
            print(f"| {name} | {c} | {med[c]:.0f} | {per_round} | {busy} | {ratio:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
