"""The workflows the SDK tests run, modelled on Hatchet's own examples
(sdks/python/examples: simple, dag, retries, timeout, on_failure, child, events, waits,
concurrency_limit_rr, cron). `worker.py` serves them; the tests trigger them."""

import asyncio
import time
from datetime import timedelta

from hatchet_sdk import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    DurableContext,
    EmptyModel,
    Hatchet,
    RateLimit,
    UserEventCondition,
)
from pydantic import BaseModel

hatchet = Hatchet()


# simple: one task and its result.
@hatchet.task(name="simple")
def simple(input: EmptyModel, ctx: Context) -> dict:
    ctx.log("hello from simple")
    return {"result": "Hello, world!"}


# dag: two roots and a task that reads both parents' outputs.
dag = hatchet.workflow(name="dag")


@dag.task()
def step1(input: EmptyModel, ctx: Context) -> dict:
    return {"random_number": 4}


@dag.task()
def step2(input: EmptyModel, ctx: Context) -> dict:
    return {"random_number": 6}


@dag.task(parents=[step1, step2])
def step3(input: EmptyModel, ctx: Context) -> dict:
    return {"sum": ctx.task_output(step1)["random_number"] + ctx.task_output(step2)["random_number"]}


# retries: fails twice, then succeeds; the backoff waits min(2, 2^n) seconds.
@hatchet.task(name="retries", retries=3, backoff_factor=2.0, backoff_max_seconds=2)
def retries(input: EmptyModel, ctx: Context) -> dict:
    if ctx.retry_count < 2:
        raise Exception(f"failing on purpose, attempt {ctx.retry_count}")
    return {"retry_count": ctx.retry_count}


# timeout: runs past its execution timeout.
@hatchet.task(name="timeout", execution_timeout=timedelta(seconds=2))
async def timeout(input: EmptyModel, ctx: Context) -> dict:
    await asyncio.sleep(30)
    return {"status": "should not get here"}


# on_failure: a task that fails, and the on-failure task that sees its error.
on_failure = hatchet.workflow(name="on-failure")


@on_failure.task()
def will_fail(input: EmptyModel, ctx: Context) -> dict:
    raise Exception("this task fails on purpose")


@on_failure.on_failure_task()
def report_failure(input: EmptyModel, ctx: Context) -> dict:
    return {"errors": ctx.task_run_errors}


# child runs: a parent spawns one child, then three at once (run_many).
class ChildInput(BaseModel):
    n: int


child = hatchet.workflow(name="child", input_validator=ChildInput)


@child.task()
def double(input: ChildInput, ctx: Context) -> dict:
    return {"value": input.n * 2}


@hatchet.task(name="parent")
async def parent(input: EmptyModel, ctx: Context) -> dict:
    one = await child.aio_run(ChildInput(n=1))
    many = await child.aio_run_many(
        [child.create_bulk_run_item(input=ChildInput(n=n)) for n in (2, 3, 4)]
    )
    return {
        "one": one["double"]["value"],
        "many": [r["double"]["value"] for r in many],
    }


# events: a workflow started by an event, and a task that waits for one.
class EventInput(BaseModel):
    name: str = ""


on_event = hatchet.workflow(name="on-event", on_events=["user:created"], input_validator=EventInput)


@on_event.task()
def greet(input: EventInput, ctx: Context) -> dict:
    return {"greeting": f"hello {input.name}"}


waits = hatchet.workflow(name="waits")


@waits.task(wait_for=[UserEventCondition(event_key="order:approved")])
def after_approval(input: EmptyModel, ctx: Context) -> dict:
    return {"approved": True}


# concurrency: at most one run per group at a time, round-robin between groups.
class GroupInput(BaseModel):
    group: str
    n: int


concurrency = hatchet.workflow(
    name="concurrency",
    input_validator=GroupInput,
    concurrency=ConcurrencyExpression(
        expression="input.group",
        max_runs=1,
        limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
    ),
)


@concurrency.task()
async def hold(input: GroupInput, ctx: Context) -> dict:
    started = time.time()
    await asyncio.sleep(1)
    return {"group": input.group, "n": input.n, "started": started, "ended": time.time()}


# cancel: a task that runs until it is cancelled.
@hatchet.task(name="long-running", execution_timeout=timedelta(minutes=5))
async def long_running(input: EmptyModel, ctx: Context) -> dict:
    await asyncio.sleep(300)
    return {"status": "should not get here"}


# cron: registered by the worker, fired by the server.
cron = hatchet.workflow(name="cron", on_crons=["* * * * *"])


@cron.task()
def tick(input: EmptyModel, ctx: Context) -> dict:
    return {"ticked": True}


# durable: a sleep and an event wait that outlive the worker's connection. No eviction
# policy: Ratchet speaks the durable protocol of engines before eviction (v0.79), and
# with a policy set hatchet-sdk 1.43.1 fails one worker start in five on such an engine.
@hatchet.durable_task(name="durable-sleep", execution_timeout=timedelta(minutes=2), eviction_policy=None)
async def durable_sleep(input: EmptyModel, ctx: DurableContext) -> dict:
    started = time.time()
    ctx.log("going to sleep")
    await ctx.aio_sleep_for(timedelta(seconds=6))
    return {"slept": time.time() - started}


@hatchet.durable_task(name="durable-event", execution_timeout=timedelta(minutes=2), eviction_policy=None)
async def durable_event(input: EmptyModel, ctx: DurableContext) -> dict:
    ctx.log("waiting for the event")
    payload = await ctx.aio_wait_for_event("durable:go")
    return {"payload": payload}


# refresh_timeout: a task that would time out asks for more time.
@hatchet.task(name="refresh", execution_timeout=timedelta(seconds=2))
async def refresh(input: EmptyModel, ctx: Context) -> dict:
    ctx.refresh_timeout(timedelta(seconds=10))
    await asyncio.sleep(3)
    return {"refreshed": True}


# rate limits: at most `limit` units of the key in any window (put by the test).
RATE_LIMIT_KEY = "sdk-tests-limit"


@hatchet.task(name="rate-limited", rate_limits=[RateLimit(static_key=RATE_LIMIT_KEY, units=1)])
def rate_limited(input: EmptyModel, ctx: Context) -> dict:
    return {"ok": True}


# desired worker labels: the worker says region=eu (worker.py).
@hatchet.task(name="labelled", desired_worker_labels=[DesiredWorkerLabel(key="region", value="eu", required=True)])
def labelled(input: EmptyModel, ctx: Context) -> dict:
    return {"region": "eu"}


@hatchet.task(
    name="unplaceable",
    schedule_timeout=timedelta(seconds=3),
    desired_worker_labels=[DesiredWorkerLabel(key="region", value="mars", required=True)],
)
def unplaceable(input: EmptyModel, ctx: Context) -> dict:
    return {"region": "mars"}


ALL = [simple, dag, retries, timeout, on_failure, child, parent, on_event, waits, concurrency, long_running, cron, durable_sleep, durable_event, refresh, rate_limited, labelled, unplaceable]
