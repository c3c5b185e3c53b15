/**
 * DBOS's step process: the application. DBOS Transact is a library, so the workflow, its steps and
 * the HTTP endpoint that starts it live in one Node process, as in a DBOS app behind a web framework.
 * Each step is checkpointed in PostgreSQL before the next one starts.
 */
import http from 'node:http';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { fib, serveStepProcess } from './common.mjs';

const [port, systemDatabaseUrl] = process.argv.slice(2);

const chain = DBOS.registerWorkflow(
  async (steps, n) => {
    let last = 0;
    for (let i = 0; i < steps; i++) last = await DBOS.runStep(async () => fib(n), { name: 'fib' });
    return { last };
  },
  { name: 'chain' },
);

DBOS.setConfig({ name: 'tutti-bench', systemDatabaseUrl, logLevel: 'warn' });
await DBOS.launch();
serveStepProcess({ shutdown: async () => (await DBOS.shutdown(), {}) });

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { steps, n } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const out = JSON.stringify(await chain(steps, n));
      res.writeHead(200, { 'content-type': 'application/json' }).end(out);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(e?.stack ?? e) }));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => process.send({ type: 'ready' }));
