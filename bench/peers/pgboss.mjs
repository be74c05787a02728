// pg-boss, measured the way bench/run measures every peer (see common.mjs for the shapes):
//   node pgboss.mjs <batch N | clients N | rate PER_S SECONDS>   with DATABASE_URL set
// Ten workers, each fetching up to 100 jobs at a time. A pg-boss worker waits its polling
// interval after every fetch (0.5 s, its minimum; it has no LISTEN/NOTIFY), so batches
// are how it is fast: one job per fetch would cap ten workers at 20 jobs/s.
import PgBoss from "pg-boss";
import { shape, main, now } from "./common.mjs";

main(async () => {
  const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: 20, supervise: false, schedule: false });
  boss.on("error", (e) => console.error(e));
  await boss.start();
  await boss.createQueue("noop");
  const started = [];
  let handled = 0;
  for (let i = 0; i < 10; i++) {
    await boss.work("noop", { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      for (const job of jobs) started.push(now() - job.data.t0);
      handled += jobs.length;
    });
  }
  const completed = async () =>
    Number((await boss.getDb().executeSql("SELECT count(*) AS n FROM pgboss.job WHERE name = 'noop' AND state = 'completed'")).rows[0].n);
  const before = await completed();
  const result = await shape({
    addBatch: (payloads) => boss.insert(payloads.map((data) => ({ name: "noop", data }))),
    addOne: (data) => boss.send("noop", data),
    // Done when every job's completion is committed.
    done: async (n) => handled >= n && (await completed()) - before >= n,
    started,
  });
  await boss.stop({ graceful: false, wait: false });
  return result;
});
