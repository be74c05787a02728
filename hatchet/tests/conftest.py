"""Fixtures: a real `ratchet serve` with Hatchet's gRPC endpoint on, a Hatchet token made
by `ratchet token create --hatchet`, and a worker of the unmodified hatchet-sdk serving
workflows.py. The binary is target/debug/ratchet unless RATCHET_BIN says otherwise; a
missing binary fails the suite (it never skips)."""

import json
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def ratchet_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("RATCHET_BIN", ROOT / "target/debug/ratchet"))
    if not path.is_file():
        pytest.fail(f"no ratchet binary at {path}: run `cargo build --bins` (or set RATCHET_BIN)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, check, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class Server:
    """One `ratchet serve` on a data dir of its own; it can be restarted on the same dir."""

    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        self.api_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.admin = "rat_admin_" + secrets.token_hex(16)
        self.env = {
            **os.environ,
            "RATCHET_DATA_DIR": str(data_dir),
            "RATCHET_LISTEN": f"127.0.0.1:{self.api_port}",
            "RATCHET_HATCHET_LISTEN": f"127.0.0.1:{self.grpc_port}",
            "RATCHET_PUBLIC_URL": self.url,
            "RATCHET_ADMIN_TOKEN": self.admin,
            "RATCHET_AGENT_LEASE": "6s",
            "RUST_LOG": "info",
        }
        self.proc = None

    def start(self):
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen([ratchet_bin(), "serve"], env=self.env, stdout=log, stderr=log)
        wait_until("the server to be ready", self.ready)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"ratchet serve exited with {self.proc.returncode}; see {self.data_dir}/server.log")
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def hatchet_token(self, scope: str = "write") -> str:
        out = subprocess.run(
            [ratchet_bin(), "token", "create", "--name", f"sdk-{scope}", "--scope", scope, "--hatchet",
             "--grpc-address", f"127.0.0.1:{self.grpc_port}", "--server-url", self.url],
            env=self.env, check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def api(self, path: str, method: str = "GET", body=None):
        """Ratchet's own REST API: what the SDK started is an ordinary Ratchet run."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.admin}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")


class Worker:
    """A Hatchet worker in a process of its own, as users run them: worker.py (Python) by
    default; it is up once the server lists a worker named `name` as active."""

    def __init__(self, server: Server, log: pathlib.Path, name: str = "sdk-tests", command=None, cwd=HERE):
        self.server, self.log, self.name, self.cwd = server, log, name, cwd
        self.command = command or [sys.executable, str(HERE / "worker.py")]
        self.proc = None

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=os.environ.copy(), stdout=out, stderr=out)
        wait_until(f"the worker {self.name} to register", self.active, timeout=60)

    def active(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker {self.name} exited with {self.proc.returncode}; see {self.log}")
        agents = self.server.api("/api/v1/agents")
        return any(a["name"] == self.name and a["status"] == "ACTIVE" for a in agents)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("ratchet"))
    server.start()
    os.environ["HATCHET_CLIENT_TOKEN"] = server.hatchet_token()
    os.environ["HATCHET_CLIENT_TLS_STRATEGY"] = "none"
    os.environ.pop("HATCHET_CLIENT_HOST_PORT", None)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker(server):
    worker = Worker(server, server.data_dir / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def wf(worker):
    """workflows.py, imported once the token is in the environment (Hatchet() reads it)."""
    sys.path.insert(0, str(HERE))
    import workflows

    return workflows
