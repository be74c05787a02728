// The workflows the TypeScript SDK tests run, modelled on Hatchet's own TS examples
// (sdks/typescript/src/v1/examples: simple, dag). Names are prefixed `ts-` so that they
// do not collide with the Python suite's workflows (../workflows.py).
import { HatchetClient } from '@hatchet-dev/typescript-sdk';

// Reads HATCHET_CLIENT_TOKEN and HATCHET_CLIENT_TLS_STRATEGY from the environment.
export const hatchet = HatchetClient.init();

// simple: one task and its result (examples/simple/workflow.ts).
export const simple = hatchet.task({
  name: 'ts-simple',
  retries: 3,
  fn: async (input, ctx) => {
    await ctx.logger.info('hello from ts-simple');
    return { TransformedMessage: input.Message.toLowerCase() };
  },
});

// dag: two roots and a task that reads both parents' outputs (examples/dag/workflow.ts).
export const dag = hatchet.workflow({ name: 'ts-dag' });

const toLower = dag.task({
  name: 'to-lower',
  fn: (input) => ({ TransformedMessage: input.Message.toLowerCase() }),
});

const length = dag.task({
  name: 'length',
  fn: (input) => ({ Length: input.Message.length }),
});

dag.task({
  name: 'reverse',
  parents: [toLower, length],
  fn: async (input, ctx) => {
    const lower = await ctx.parentOutput(toLower);
    const len = await ctx.parentOutput(length);
    return {
      Original: input.Message,
      Transformed: lower.TransformedMessage.split('').reverse().join(''),
      Length: len.Length,
    };
  },
});

export const ALL = [simple, dag];
