// What every Node peer shares: the three shapes bench/run measures, timed the same way
// as Ratchet's side (bench/engine-peer in engine/benches/engine.rs) and procrastinate's.
import { performance } from "node:perf_hooks";

export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function main(body) {
  try {
    console.log(JSON.stringify(await body()));
    process.exit(0);
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;
}

async function until(done, n, limitMs) {
  const deadline = now() + limitMs;
  while (!(await done(n))) {
    if (now() > deadline) throw new Error(`jobs did not all complete within ${limitMs} ms`);
    await sleep(10);
  }
}

/// Runs the shape named on the command line against a peer's add/done functions.
export async function shape({ addBatch, addOne, done, started }) {
  const [name, arg, seconds] = process.argv.slice(2);
  // Warm-up, as on Ratchet's side: 1,000 jobs through a fresh database (its statistics,
  // caches and connections), not measured. `done` counts from the start.
  const WARM = 1000;
  await addBatch(Array.from({ length: WARM }, () => ({ t0: now() })));
  await until(done, WARM, 300_000);
  started.length = 0;
  const n = Number(arg);
  const doneAfterWarmUp = (m) => done(WARM + m);
  if (name === "batch" || name === "clients") {
    const t0 = now();
    if (name === "batch") {
      for (let i = 0; i < n; i += 1000) {
        const t = now();
        await addBatch(Array.from({ length: Math.min(1000, n - i) }, () => ({ t0: t })));
      }
    } else {
      await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          for (let i = c; i < n; i += 16) await addOne({ t0: now() });
        }),
      );
    }
    await until(doneAfterWarmUp, n, 300_000);
    const elapsed = (now() - t0) / 1000;
    return { shape: name, n, seconds: elapsed, per_s: n / elapsed };
  }
  if (name === "rate") {
    const total = Math.round(n * Number(seconds));
    const t0 = now();
    const adds = [];
    for (let i = 0; i < total; i++) {
      const wait = t0 + (i * 1000) / n - now();
      if (wait > 1) await sleep(wait);
      adds.push(addOne({ t0: now() }));
    }
    await Promise.all(adds);
    await until(doneAfterWarmUp, total, 300_000);
    const sorted = [...started].sort((a, b) => a - b);
    return { shape: name, rate: n, n: total, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  }
  throw new Error(`unknown shape '${name}': batch N | clients N | rate PER_S SECONDS`);
}
