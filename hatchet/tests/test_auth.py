"""Who may call the Hatchet endpoint: a Hatchet token of this server with the scope the
call needs, and nothing else; and a worker may implement Hatchet actions only (never an
edge agent's). Calls go through the SDK's own generated stubs."""

import base64
import json
import subprocess

import grpc
import pytest
from hatchet_sdk.contracts import dispatcher_pb2, dispatcher_pb2_grpc

from conftest import ratchet_bin


def register(server, token, actions=("auth-test:step",)):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = dispatcher_pb2_grpc.DispatcherStub(channel)
    request = dispatcher_pb2.WorkerRegisterRequest(worker_name="auth-test", actions=list(actions), slots=1)
    try:
        return stub.Register(request, metadata=(("authorization", f"bearer {token}"),), timeout=10)
    finally:
        channel.close()


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as failed:
        call()
    return failed.value.code()


def test_a_write_token_registers_a_worker(server):
    assert register(server, server.hatchet_token("write")).worker_id


def test_a_read_token_may_not_register_a_worker(server):
    assert code_of(lambda: register(server, server.hatchet_token("read"))) == grpc.StatusCode.PERMISSION_DENIED


def test_tokens_that_are_not_this_servers_hatchet_tokens_are_refused(server):
    # A plain API token (the admin's), garbage, and a JWT with valid claims but a signature
    # of another key.
    token = server.hatchet_token("write")
    header, claims, _ = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    forged["jti"] = "forged"
    forged_claims = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    for bad in (server.admin, "not-a-token", f"{header}.{forged_claims}.{_}"):
        assert code_of(lambda: register(server, bad)) == grpc.StatusCode.UNAUTHENTICATED, bad


def test_a_revoked_token_is_refused(server):
    token = server.hatchet_token("write")
    tokens = subprocess.run([ratchet_bin(), "token", "list"], env=server.env, check=True, capture_output=True, text=True).stdout
    # Token ids are UUIDv7: the greatest is the newest.
    newest = max(line.split()[0] for line in tokens.strip().splitlines()[1:])
    subprocess.run([ratchet_bin(), "token", "revoke", newest], env=server.env, check=True, capture_output=True)
    assert code_of(lambda: register(server, token)) == grpc.StatusCode.UNAUTHENTICATED


def test_a_worker_may_not_implement_an_edge_agents_action(server):
    token = server.hatchet_token("write")
    for action in ("shell", "postgres.start", ":x", "x:"):
        assert code_of(lambda: register(server, token, [action])) == grpc.StatusCode.INVALID_ARGUMENT, action


def test_the_servers_own_workflows_are_not_started_or_replaced_through_hatchet(server):
    from hatchet_sdk.contracts import workflows_pb2_grpc
    from hatchet_sdk.contracts.v1 import workflows_pb2 as v1_workflows
    from hatchet_sdk.contracts.v1.shared import trigger_pb2

    metadata = (("authorization", f"bearer {server.hatchet_token('admin')}"),)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        # Starting a suite's test run with an input of one's making (its machines, its
        # commands) is the suite API's alone.
        trigger = workflows_pb2_grpc.WorkflowServiceStub(channel).TriggerWorkflow
        request = trigger_pb2.TriggerWorkflowRequest(name="stroppy-test-run", input="{}")
        assert code_of(lambda: trigger(request, metadata=metadata, timeout=10)) == grpc.StatusCode.PERMISSION_DENIED
        # Neither may a workflow take a built-in name or run the server's own steps.
        from hatchet_sdk.contracts.v1 import workflows_pb2_grpc as v1_grpc

        put = v1_grpc.AdminServiceStub(channel).PutWorkflow
        step = v1_workflows.CreateTaskOpts(readable_id="validate", action="stroppy.suite.validate", timeout="10s")
        own_name = v1_workflows.CreateWorkflowVersionRequest(name="stroppy-test-suite", tasks=[step])
        assert code_of(lambda: put(own_name, metadata=metadata, timeout=10)) == grpc.StatusCode.PERMISSION_DENIED
        own_step = v1_workflows.CreateWorkflowVersionRequest(name="borrowed-steps", tasks=[step])
        assert code_of(lambda: put(own_step, metadata=metadata, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        channel.close()
