"""`Hatchet.from_embedded()` with HATCHET_CLIENT_EMBEDDED_BINARY_PATH set to `ratchet`:
the SDK starts Ratchet as its engine (SQLite in a data dir of its own, nothing
downloaded), a worker in another process connects through the handshake the SDK exports,
and the engine stops when told (SIGTERM) or when its parent's stdin pipe closes."""

import json
import os
import subprocess
import sys
import textwrap

from conftest import HERE, ratchet_bin, wait_until

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from hatchet_sdk import Context, EmptyModel, Hatchet

    started = time.monotonic()
    hatchet = Hatchet.from_embedded()
    ready_s = time.monotonic() - started

    @hatchet.task(name="embedded-hello")
    def hello(input: EmptyModel, ctx: Context) -> dict:
        return {"hello": "from the embedded engine"}

    if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
        hatchet.worker("embedded-worker", slots=2, workflows=[hello]).start()
    elif __name__ == "__main__":
        # The worker inherits HATCHET_EMBEDDED_HANDSHAKE and joins this engine.
        worker = subprocess.Popen([sys.executable, __file__, "worker"])
        try:
            for _ in range(100):
                try:
                    result = hello.run()
                    break
                except Exception:  # not registered by the worker yet
                    time.sleep(0.2)
            handshake = json.loads(os.environ["HATCHET_EMBEDDED_HANDSHAKE"])
            print("REPORT " + json.dumps({"result": result, "ready_s": ready_s, "handshake": handshake}), flush=True)
        finally:
            worker.terminate()
            worker.wait()
    """
)


def test_from_embedded_starts_ratchet_as_the_engine(tmp_path):
    script = tmp_path / "embedded_app.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCHET_")}
    env["HATCHET_CLIENT_EMBEDDED_BINARY_PATH"] = str(ratchet_bin())
    env["HATCHET_CLIENT_EMBEDDED_POSTGRES_DATA_DIR"] = str(tmp_path / "data")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    [report] = [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("REPORT ")]
    assert report["result"] == {"hello": "from the embedded engine"}
    handshake = report["handshake"]
    assert set(handshake) == {"token", "tenant_id", "grpc_address", "api_url"}
    # Its SQLite database is in the data dir the SDK named.
    assert (tmp_path / "data" / "ratchet.db").exists()
    print(f"from_embedded() ready in {report['ready_s']:.2f} s")


def test_the_embedded_engine_stops_when_its_stdin_closes(tmp_path):
    handshake = tmp_path / "handshake.json"
    proc = subprocess.Popen(
        [ratchet_bin(), "-handshake-file", str(handshake), "-postgres-data-dir", str(tmp_path / "data"), "-log-level", "warn"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until("the handshake", handshake.exists)
        assert set(json.loads(handshake.read_text())) == {"token", "tenant_id", "grpc_address", "api_url"}
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_the_embedded_engine_rejects_unknown_flags(tmp_path):
    out = subprocess.run(
        [ratchet_bin(), "-handshake-file", str(tmp_path / "h.json"), "-grpc-port", "many"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0
    assert "many" in out.stderr
