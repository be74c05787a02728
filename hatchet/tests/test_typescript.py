"""The unmodified TypeScript SDK (@hatchet-dev/typescript-sdk, pinned in
typescript/package.json) against a real `ratchet serve`: a Node worker serving
typescript/workflows.mjs (modelled on Hatchet's TS examples simple and dag), and a Node
client that runs a workflow and prints what the SDK returns. Needs node and npm; a missing
node_modules is installed with `npm ci` from the committed lock (never skipped)."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import HERE, Worker

TS = HERE / "typescript"


def node_modules():
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is not on PATH: the TypeScript SDK tests need Node.js >= 20 and npm")
    if not (TS / "node_modules/@hatchet-dev/typescript-sdk/package.json").is_file():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"`npm ci` in {TS} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def ts_worker(server):
    node_modules()
    # Its name differs from the Python worker's, its workflows are prefixed `ts-`.
    worker = Worker(server, server.data_dir / "ts-worker.log", name="ts-sdk-tests", command=["node", "worker.mjs"], cwd=TS)
    worker.start()
    yield worker
    worker.stop()


def run_client(server, which: str) -> dict:
    """typescript/client.mjs: runs one workflow and prints {runId, result} as JSON."""
    done = subprocess.run(["node", "client.mjs", which], cwd=TS, env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"client.mjs {which} exited with {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}\n"
        f"(server log: {server.data_dir}/server.log, worker log: {server.data_dir}/ts-worker.log)"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ts_simple_task_returns_its_result(ts_worker, server):
    out = run_client(server, "simple")
    # A standalone task's ref answers the task's own output.
    assert out["result"] == {"TransformedMessage": "hello world"}
    run = server.api(f"/api/v1/runs/{out['runId']}")
    assert run["workflow"] == "ts-simple"
    assert run["status"] == "COMPLETED"
    assert run["input"] == {"Message": "HeLlO WoRlD"}
    [task] = run["tasks"]
    assert task["worker_id"] and task["output"] == {"TransformedMessage": "hello world"}, task
    # The task's ctx.logger.info line is in the run's logs.
    logs = server.api(f"/api/v1/runs/{out['runId']}/logs")
    assert any("hello from ts-simple" in line["line"] for line in logs["lines"]), logs


def test_ts_dag_task_reads_its_parents_outputs(ts_worker, server):
    out = run_client(server, "dag")
    expected = {
        "to-lower": {"TransformedMessage": "hello world"},
        "length": {"Length": 11},
        "reverse": {"Original": "hello world", "Transformed": "dlrow olleh", "Length": 11},
    }
    assert out["result"] == expected
    run = server.api(f"/api/v1/runs/{out['runId']}")
    assert run["workflow"] == "ts-dag"
    assert run["status"] == "COMPLETED"
    assert run["output"] == expected
    assert sorted(t["name"] for t in run["tasks"]) == ["length", "reverse", "to-lower"]
    # The DAG the TS worker registered: `reverse` has both roots as parents.
    assert sorted(map(tuple, run["edges"])) == [("length", "reverse"), ("to-lower", "reverse")]
    assert all(t["status"] == "COMPLETED" for t in run["tasks"]), run["tasks"]
