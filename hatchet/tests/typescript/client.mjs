// Runs one workflow of workflows.mjs and prints what the SDK returns as one JSON line
// (examples/simple/run.ts, examples/dag/run.ts). Usage: node client.mjs simple|dag
import { hatchet, simple, dag } from './workflows.mjs';

const which = process.argv[2];
let out;
if (which === 'simple') {
  const ref = await simple.runNoWait({ Message: 'HeLlO WoRlD' });
  const runId = await ref.getWorkflowRunId();
  out = { runId, result: await ref.output };
} else if (which === 'dag') {
  const ref = await dag.runNoWait({ Message: 'hello world' });
  const runId = await ref.getWorkflowRunId();
  // dag.run(...) is runNoWait(...).output: the outputs by task name.
  out = { runId, result: await ref.output };
} else {
  console.error(`usage: node client.mjs simple|dag (got ${which})`);
  process.exit(2);
}
console.log(JSON.stringify(out));
process.exit(0);
