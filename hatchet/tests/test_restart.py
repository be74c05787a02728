"""Durable waits through the SDK: an event wait, and a sleep that outlives a restart of
the server (the worker keeps running its task and reconnects; the sleep's deadline was
recorded by the server, not the worker)."""

from conftest import wait_until


def logged(server, run_id, text):
    lines = server.api(f"/api/v1/runs/{run_id}/logs")["lines"]
    return any(text in line["line"] for line in lines)


def test_durable_event_wait(wf, server):
    ref = wf.durable_event.run(wait_for_result=False)
    wait_until("the task to wait", lambda: logged(server, ref.workflow_run_id, "waiting for the event"))

    # The wait counts events pushed once it is registered (a moment after the log line):
    # push until the run has its answer.
    def answered():
        wf.hatchet.event.push("durable:go", {"answer": 42})
        return server.api(f"/api/v1/runs/{ref.workflow_run_id}")["status"] == "COMPLETED"

    wait_until("the wait to take the event", answered, every=0.5)
    assert ref.result() == {"payload": {"answer": 42}}


def test_durable_sleep_survives_a_server_restart(wf, server):
    ref = wf.durable_sleep.run(wait_for_result=False)
    wait_until("the task to sleep", lambda: logged(server, ref.workflow_run_id, "going to sleep"))
    server.stop()
    server.start()
    result = ref.result()
    assert result["slept"] >= 6, result
    [task] = server.api(f"/api/v1/runs/{ref.workflow_run_id}")["tasks"]
    # The same attempt slept through the restart: nothing was retried or reassigned.
    assert task["status"] == "COMPLETED" and task["attempt"] == 1, task
