// graphile-worker, measured the way bench/run measures every peer (see bench/run):
//   node graphile.mjs <shape> <n|rate> [seconds]   with DATABASE_URL set
// shapes: batch (n jobs added 1,000 per addJobs), clients (n jobs added one at a time by
// 16 concurrent clients), rate (jobs offered at <rate>/s for <seconds>; enqueue -> handler
// start). Prints one JSON line.
import { run, makeWorkerUtils, Logger } from "graphile-worker";
import { shape, main, now } from "./common.mjs";

const connectionString = process.env.DATABASE_URL;

main(async () => {
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  const started = [];
  let handled = 0;
  const runner = await run({
    connectionString,
    concurrency: 10,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quietLogger(),
    taskList: {
      noop: async (payload) => {
        started.push(now() - payload.t0);
        handled += 1;
      },
    },
  });
  const pending = async () =>
    Number((await utils.withPgClient((c) => c.query("SELECT count(*) AS n FROM graphile_worker.jobs"))).rows[0].n);
  const result = await shape({
    addBatch: (payloads) => utils.addJobs(payloads.map((payload) => ({ identifier: "noop", payload }))),
    addOne: (payload) => utils.addJob("noop", payload),
    // Done when every job ran and its completion is committed (graphile deletes a job when it completes).
    done: async (n) => handled >= n && (await pending()) === 0,
    started,
  });
  await runner.stop();
  await utils.release();
  return result;
});

function quietLogger() {
  // graphile-worker logs every job at info; only warnings and errors are kept.
  return new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") console.error(message);
  });
}
