"""The unmodified hatchet-sdk against a real `ratchet serve`: cases modelled on Hatchet's
own examples. Each asserts on what the SDK returns, and where the SDK cannot show it, on
the run as Ratchet's REST API shows it."""

import time

import pytest
from hatchet_sdk.exceptions import FailedTaskRunExceptionGroup

from conftest import wait_until


def ratchet_run(server, run_id):
    return server.api(f"/api/v1/runs/{run_id}")


def test_simple_task_returns_its_result(wf, server):
    ref = wf.simple.run(wait_for_result=False)
    # A standalone task answers its own output (a workflow: outputs by task name).
    assert ref.result() == {"result": "Hello, world!"}
    run = ratchet_run(server, ref.workflow_run_id)
    assert run["status"] == "COMPLETED"
    assert run["workflow"] == "simple"
    # The task's ctx.log line is in the run's logs.
    logs = server.api(f"/api/v1/runs/{ref.workflow_run_id}/logs")
    assert any("hello from simple" in line["line"] for line in logs["lines"]), logs


def test_dag_tasks_read_their_parents_outputs(wf):
    assert wf.dag.run() == {
        "step1": {"random_number": 4},
        "step2": {"random_number": 6},
        "step3": {"sum": 10},
    }


def test_runs_are_read_back_over_hatchets_rest_api(wf):
    from hatchet_sdk.clients.rest.models.v1_task_status import V1TaskStatus

    ref = wf.dag.run(wait_for_result=False)
    ref.result()
    runs = wf.hatchet.runs
    assert runs.get_status(ref.workflow_run_id) == V1TaskStatus.COMPLETED
    assert runs.get_result(ref.workflow_run_id) == {
        "step1": {"random_number": 4},
        "step2": {"random_number": 6},
        "step3": {"sum": 10},
    }
    details = runs.get(ref.workflow_run_id)
    assert details.run.display_name == "dag"
    tasks = {t.display_name: t for t in details.tasks}
    assert sorted(tasks) == ["step1", "step2", "step3"]
    assert all(t.status == V1TaskStatus.COMPLETED for t in tasks.values())
    # The DAG's shape: both roots lead to step3.
    shape = {item.task_name: item for item in details.shape}
    step3 = shape["step3"].step_id
    assert shape["step1"].children_step_ids == [step3] and shape["step2"].children_step_ids == [step3]
    assert {e.event_type.value for e in details.task_events} >= {"QUEUED", "ASSIGNED", "FINISHED"}
    # The list (the SDK asks for the last day by default) has it, filtered by status too.
    listed = runs.list(statuses=[V1TaskStatus.COMPLETED], limit=500)
    row = next(r for r in listed.rows if r.workflow_run_external_id == ref.workflow_run_id)
    assert row.output == details.run.output and row.type.value == "DAG"


def test_retries_back_off_then_succeed(wf, server):
    ref = wf.retries.run(wait_for_result=False)
    assert ref.result() == {"retry_count": 2}
    events = server.api(f"/api/v1/runs/{ref.workflow_run_id}/events")
    kinds = [e["kind"] for e in events]
    assert kinds.count("RETRYING") == 2, kinds
    # Retry n waits min(2, 2^n) s: each attempt is handed out at least 2 s after the
    # failure before it.
    retrying = [e["at"] for e in events if e["kind"] == "RETRYING"]
    assigned = [e["at"] for e in events if e["kind"] == "ASSIGNED"]
    assert len(assigned) == 3, kinds
    for failed_at, next_at in zip(retrying, assigned[1:]):
        assert next_at - failed_at >= 2000, (failed_at, next_at)


def test_execution_timeout_fails_the_run(wf, server):
    ref = wf.timeout.run(wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result()
    run = ratchet_run(server, ref.workflow_run_id)
    assert run["status"] == "FAILED"
    kinds = [e["kind"] for e in server.api(f"/api/v1/runs/{ref.workflow_run_id}/events")]
    assert "TIMED_OUT" in kinds, kinds


def test_on_failure_task_sees_the_error(wf, server):
    ref = wf.on_failure.run(wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup) as failed:
        ref.result()
    assert "this task fails on purpose" in str(failed.value.exceptions[0])
    [report] = [t for t in ratchet_run(server, ref.workflow_run_id)["tasks"] if t["is_on_failure"]]
    assert report["status"] == "COMPLETED", report
    assert "this task fails on purpose" in report["output"]["errors"]["will_fail"]


def test_child_runs_one_and_many(wf, server):
    ref = wf.parent.run(wait_for_result=False)
    assert ref.result() == {"one": 2, "many": [4, 6, 8]}
    children = ratchet_run(server, ref.workflow_run_id)["children"]
    assert sorted(c["workflow"] for c in children) == ["child"] * 4
    assert all(c["status"] == "COMPLETED" for c in children)


def test_event_triggers_a_workflow(wf, server):
    before = int(time.time() * 1000)
    wf.hatchet.event.push("user:created", {"name": "ada"})

    def started():
        runs = server.api(f"/api/v1/runs?workflow=on-event&since={before}")["runs"]
        return [r for r in runs if r["status"] == "COMPLETED"]

    run = wait_until("the event's run to complete", started)[0]
    assert run["output"] == {"greet": {"greeting": "hello ada"}}


def test_event_satisfies_a_wait(wf, server):
    ref = wf.waits.run(wait_for_result=False)
    wait_until("the task to wait for its event", lambda: ratchet_run(server, ref.workflow_run_id)["tasks"][0]["status"] == "PENDING")
    wf.hatchet.event.push("order:approved", {})
    assert ref.result() == {"after_approval": {"approved": True}}


def test_concurrency_limit_holds_per_group_round_robin(wf):
    items = [
        wf.concurrency.create_bulk_run_item(input=wf.GroupInput(group=g, n=n))
        for n in range(3)
        for g in ("a", "b")
    ]
    results = [r["hold"] for r in wf.concurrency.run_many(items)]
    for group in ("a", "b"):
        spans = sorted((r["started"], r["ended"]) for r in results if r["group"] == group)
        assert len(spans) == 3
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"two runs of group {group} overlapped: {spans}"
    # The groups shared the time: the other group's first run did not wait for all of one.
    first = {g: min(r["started"] for r in results if r["group"] == g) for g in ("a", "b")}
    last_end = {g: max(r["ended"] for r in results if r["group"] == g) for g in ("a", "b")}
    assert first["b"] < last_end["a"] and first["a"] < last_end["b"]


def test_refresh_timeout_extends_the_deadline(wf):
    assert wf.refresh.run() == {"refreshed": True}


def test_rate_limit_spaces_the_runs(wf, server):
    from hatchet_sdk import RateLimitDuration

    wf.hatchet.rate_limits.put(wf.RATE_LIMIT_KEY, 1, RateLimitDuration.SECOND)
    refs = wf.rate_limited.run_many([wf.rate_limited.create_bulk_run_item() for _ in range(3)], wait_for_result=False)
    assert [r.result() for r in refs] == [{"ok": True}] * 3
    events = [server.api(f"/api/v1/runs/{r.workflow_run_id}/events") for r in refs]
    assigned = sorted(e["at"] for run in events for e in run if e["kind"] == "ASSIGNED")
    # At most one unit in any one-second window: the runs were handed out a second apart.
    for earlier, later in zip(assigned, assigned[1:]):
        assert later - earlier >= 1000, assigned
    assert any(e["kind"] == "REQUEUED" for run in events for e in run)


def test_desired_labels_place_tasks(wf, server):
    assert wf.labelled.run() == {"region": "eu"}
    ref = wf.unplaceable.run(wait_for_result=False)
    # No worker has region=mars: it stays queued until its schedule timeout cancels it.
    run = wait_until("the schedule timeout", lambda: (r := ratchet_run(server, ref.workflow_run_id))["status"] == "CANCELLED" and r, timeout=30)
    assert run["tasks"][0]["status"] == "CANCELLED"


def test_replay_runs_an_ended_run_again(wf, server):
    ref = wf.simple.run(wait_for_result=False)
    ref.result()
    wf.hatchet.runs.replay(ref.workflow_run_id)

    def replayed():
        run = ratchet_run(server, ref.workflow_run_id)
        kinds = [e["kind"] for e in server.api(f"/api/v1/runs/{ref.workflow_run_id}/events")]
        return run["status"] == "COMPLETED" and "REPLAYED" in kinds and kinds.count("COMPLETED") == 2

    wait_until("the replay to complete", replayed)


def test_cancelled_run(wf, server):
    ref = wf.long_running.run(wait_for_result=False)
    wait_until("the task to start", lambda: ratchet_run(server, ref.workflow_run_id)["tasks"][0]["status"] == "RUNNING")
    wf.hatchet.runs.cancel(ref.workflow_run_id)
    run = wait_until("the run to end", lambda: (r := ratchet_run(server, ref.workflow_run_id))["status"] != "RUNNING" and r)
    assert run["status"] == "CANCELLED"
    with pytest.raises(ValueError, match="cancelled"):
        ref.result()


def test_cron_registered_by_the_worker_fires(wf, server):
    crons = server.api("/api/v1/crons")
    assert any(c["workflow"] == "cron" and c["expression"] == "* * * * *" for c in crons), crons

    def fired():
        runs = server.api("/api/v1/runs?workflow=cron")["runs"]
        return [r for r in runs if r["status"] == "COMPLETED"]

    run = wait_until("the cron to fire (at the next minute)", fired, timeout=75, every=1)[0]
    assert run["output"] == {"tick": {"ticked": True}}
