#!/usr/bin/env python3
"""Benchmark of what `balena fleet <fleet>` transfers (issue 10): bytes on the wire for a fleet
of 100 devices against one of 100,000, ours side by side with the official balena CLI.

The CLIs talk to the sandbox through a tiny counting TCP proxy on 127.0.0.1 (threads copying
bytes both ways), which counts every byte of each connection: the bytes of the responses
(status lines, headers and bodies, as sent) and of the requests. The sandbox's request log
gives the requests per run. A command whose answers grow with the fleet's devices shows it
here; one that only counts them stays flat.

Per CLI and fleet size: response bytes and request bytes per run (medians; they should not
vary between runs), requests per run, median wall time, and the ratio of the response bytes at
the large fleet to those at the small one. The official CLI is npm balena-cli 25.2.6 through
/work/shared/peers/run-balena-cli.sh (when it is not installed its rows say so).

Usage: scripts/bench-fleet-bytes.py [--sizes 100,100000] [--runs R] [--official-runs O]
                                    [--official PATH]

Defaults: fleets of 100 and 100,000 devices (5 releases each), 3 runs of ours and 3 of the
official CLI per size, interleaved.

Builds the release binaries, starts one sandbox at a time on 127.0.0.1 with a temporary
database, prints a Markdown table for BENCHMARKS.md, and stops the proxy and the sandbox.
Loopback only, bounded loops.
"""
import argparse
import contextlib
import os
import socket
import sys
import threading
import urllib.parse

from benchlib import OFFICIAL_RUNNER, RELEASE, build, cli_env, fmt, measure, median, official_cli, sandbox


class CountingProxy:
    """A TCP proxy on 127.0.0.1:<free port> to the sandbox, counting the bytes each way."""

    def __init__(self, upstream):
        u = urllib.parse.urlparse(upstream)
        self.upstream = (u.hostname, u.port)
        self.lock = threading.Lock()
        self.up = self.down = 0  # client -> server, server -> client
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads = []
        self.accepter = threading.Thread(target=self.accept, daemon=True)
        self.accepter.start()

    def take(self):
        """The counts since the last call: (request bytes, response bytes)."""
        with self.lock:
            counts, self.up, self.down = (self.up, self.down), 0, 0
        return counts

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed by stop()
            server = socket.create_connection(self.upstream)
            for src, dst, up in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self.pump, args=(src, dst, up), daemon=True)
                t.start()
                self.threads.append(t)

    def pump(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def quiet(self):
        """Waits (at most 5 s) until the copying threads of finished connections are done."""
        for t in self.threads:
            t.join(timeout=5)
        self.threads = [t for t in self.threads if t.is_alive()]

    def stop(self):
        self.listener.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,100000", help="fleet sizes in devices, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--official-runs", type=int, default=3)
    ap.add_argument("--official", default=OFFICIAL_RUNNER, help="run-balena-cli.sh")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    build("--workspace", "--bins")
    balena = os.path.join(RELEASE, "balena")
    results = {}  # (who, size) -> dict
    installed = True
    for n in sizes:
        with sandbox("--devices", str(n), "--releases", "5") as sb:
            slug = sb.newest_fleet()["slug"]
            off = official_cli(sb, args.official)
            installed = off is not None
            proxy = CountingProxy(sb.base)
            try:
                env = dict(cli_env(sb), BALENARC_API_URL=proxy.base)
                for i in range(max(args.runs, args.official_runs)):
                    plan = []
                    if i < args.runs:
                        plan.append(("ours", [balena, "fleet", slug], env))
                    if off and i < args.official_runs:
                        plan.append(("official", off.argv(proxy.base, "fleet", slug), off.env))
                    for who, argv, e in plan:
                        r = results.setdefault((who, n), {"up": [], "down": [], "reqs": [], "wall": []})
                        proxy.quiet()
                        proxy.take()
                        before = sb.log_count()
                        wall, _, _, _ = measure(argv, e, sb.tmp)
                        proxy.quiet()
                        up, down = proxy.take()
                        r["up"].append(up)
                        r["down"].append(down)
                        r["reqs"].append(sb.log_count() - before)
                        r["wall"].append(wall)
            finally:
                proxy.stop()

    print(f"`fleet <fleet>` through a counting TCP proxy; {args.runs} runs of ours and "
          f"{args.official_runs if installed else 0} of the official CLI per fleet size, interleaved. "
          "Bytes per run as on the wire (headers included), medians.\n")
    small, large = min(sizes), max(sizes)
    print(f"| command | devices | response bytes | request bytes | requests | median s | "
          f"response bytes {large:,} / {small:,} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for who, label in (("ours", "ours: `balena fleet <fleet>`"), ("official", "official: `balena fleet <fleet>`")):
        for n in sizes:
            r = results.get((who, n))
            if not r:
                print(f"| {label} | {n:,} | official CLI not installed | | | | |")
                continue
            growth = ""
            if n == large and (who, small) in results and small != large:
                growth = f"{median(r['down']) / median(results[(who, small)]['down']):.2f}"
            print(f"| {label} | {n:,} | {median(r['down']):,.0f} | {median(r['up']):,.0f} | "
                  f"{fmt(median(r['reqs']), '.0f')} | {median(r['wall']):.2f} | {growth} |")


if __name__ == "__main__":
    sys.exit(main())
