"""procrastinate, measured the way bench/run measures every peer (the shapes of common.mjs):

    python procrastinate_peer.py <batch N | clients N | rate PER_S SECONDS>   (DATABASE_URL set)

One worker with concurrency 10, woken by LISTEN/NOTIFY. Prints one JSON line.
"""

import asyncio
import json
import math
import os
import sys
import time

import procrastinate

URL = os.environ["DATABASE_URL"]
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=URL, max_size=20))
started: list[float] = []


def now() -> float:
    return time.time() * 1000


@app.task(name="noop")
async def noop(t0: float) -> None:
    started.append(now() - t0)


async def succeeded() -> int:
    rows = await app.connector.execute_query_all_async(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'"
    )
    return int(rows[0]["n"])


async def until(n: int, before: int) -> None:
    deadline = time.monotonic() + 300
    while len(started) < n or await succeeded() - before < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs did not all complete within 300 s ({len(started)} of {n} ran)")
        await asyncio.sleep(0.01)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))]


async def main() -> dict:
    shape, arg = sys.argv[1], float(sys.argv[2])
    async with app.open_async():
        exists = await app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS e"
        )
        if not exists["e"]:
            await app.schema_manager.apply_schema_async()
        worker = asyncio.create_task(
            app.run_worker_async(concurrency=10, wait=True, install_signal_handlers=False, delete_jobs="never")
        )
        # Warm-up, as on every side: 1,000 jobs through the fresh database, not measured.
        before = await succeeded()
        await noop.batch_defer_async(*[{"t0": now()} for _ in range(1000)])
        await until(1000, before)
        started.clear()
        before = await succeeded()
        t0 = now()
        if shape == "batch":
            n = int(arg)
            for i in range(0, n, 1000):
                t = now()
                await noop.batch_defer_async(*[{"t0": t} for _ in range(min(1000, n - i))])
        elif shape == "clients":
            n = int(arg)

            async def client(c: int) -> None:
                for _ in range(c, n, 16):
                    await noop.defer_async(t0=now())

            await asyncio.gather(*(client(c) for c in range(16)))
        elif shape == "rate":
            n = round(arg * float(sys.argv[3]))
            adds = []
            for i in range(n):
                wait = t0 + i * 1000 / arg - now()
                if wait > 1:
                    await asyncio.sleep(wait / 1000)
                adds.append(asyncio.create_task(noop.defer_async(t0=now())))
            await asyncio.gather(*adds)
        else:
            raise SystemExit(f"unknown shape '{shape}': batch N | clients N | rate PER_S SECONDS")
        await until(n, before)
        elapsed = (now() - t0) / 1000
        worker.cancel()
        try:
            await worker
        except asyncio.CancelledError:
            pass
    if shape == "rate":
        return {"shape": shape, "rate": arg, "n": n, "p50": percentile(started, 50),
                "p95": percentile(started, 95), "p99": percentile(started, 99)}
    return {"shape": shape, "n": n, "seconds": elapsed, "per_s": n / elapsed}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
