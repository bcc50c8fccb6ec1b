"""What the benchmark scripts share: building the release binaries, a balena-sandbox on
127.0.0.1 with a temporary database (stopped on exit), authenticated GETs and the request log."""
import contextlib
import json
import os
import subprocess
import tempfile
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
