// A Hatchet worker of the TypeScript SDK serving workflows.mjs (examples/simple/worker.ts).
// ../test_typescript.py starts it; its name differs from the Python worker's (`sdk-tests`).
import { ALL, hatchet } from './workflows.mjs';

const worker = await hatchet.worker('ts-sdk-tests', { workflows: ALL, slots: 10 });

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await worker.stop();
    process.exit(0);
  });
}

await worker.start();
