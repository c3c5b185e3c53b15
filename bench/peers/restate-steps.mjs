/**
 * Restate's step process: the service endpoint that Restate invokes. One durable handler runs a
 * workflow of `steps` steps, each a `ctx.run` (journaled by the server before the next one starts).
 * Served over HTTP/2 on 127.0.0.1 (`restate.serve` would listen on every interface).
 */
import http2 from 'node:http2';
import { fib, serveStepProcess } from './common.mjs';

// restate-sdk 1.17 calls Promise.withResolvers (ES2024, Node >= 22); Tutti targets Node 20, so the
// standard method is supplied here before the SDK loads. It is the spec's three-line definition.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const restate = await import('@restatedev/restate-sdk');

const bench = restate.service({
  name: 'bench',
  handlers: {
    chain: async (ctx, { steps, n }) => {
      let last = 0;
      for (let i = 0; i < steps; i++) last = await ctx.run('fib', () => fib(n));
      return { last };
    },
  },
});

serveStepProcess();
const server = http2.createServer(restate.createEndpointHandler({ services: [bench] }));
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.send({ type: 'ready' }));
