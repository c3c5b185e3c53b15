import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { instanceAttempts, taskRunInstances } from '../src/store/instances.js';
import { getRun, getTaskRuns } from '../src/store/runs.js';
import { openTutti } from '../src/tutti.js';
import { module, tempDir } from './helpers.js';

describe('crash recovery', () => {
  it('a process killed in the middle of a run: the next one completes it without re-running finished tasks', async () => {
    const dir = tempDir();
    const home = path.join(dir, 'home');
    const flow = path.join(dir, 'flow.yaml');
    writeFileSync(
      flow,
      `id: resume
tasks:
  - { id: first, component: ${module('counter')} }
  - { id: slow, component: ${module('sleep')}, needs: [first], env: { SLEEP_MS: "1500" } }
  - { id: last, component: ${module('wordcount')}, needs: [slow] }
`,
    );
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin/tutti.mjs'), 'run', flow, '--home', home, '--workers', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const runId = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        // kill -9 while "slow" is running: "first" has finished and been committed
        if (/slow: task-planned/.test(stderr)) {
          setTimeout(() => child.kill('SIGKILL'), 300);
          resolve(/run (r_\w+)/.exec(stderr)![1]!);
        }
      });
      child.on('exit', () => reject(new Error(`tutti run exited before the kill:\n${stderr}`)));
    });
    await new Promise((r) => child.on('exit', r));
    assert.equal(child.signalCode, 'SIGKILL');

    const tutti = await openTutti({ home, workers: 2 });
    try {
      const db = tutti.database.db;
      const before = Object.fromEntries((await getTaskRuns(db, runId)).map((t) => [t.taskId, t.state]));
      assert.deepEqual(before, { first: 'succeeded', slow: 'running', last: 'pending' });
      await tutti.engine.start();
      const run = await tutti.engine.waitForRun(runId);
      assert.equal(run.state, 'succeeded', run.error ?? '');
      const trs = Object.fromEntries((await getTaskRuns(db, runId)).map((t) => [t.taskId, t]));
      const attemptsOf = async (task: string) => instanceAttempts(db, (await taskRunInstances(db, trs[task]!.id))[0]!.id);
      assert.deepEqual((await attemptsOf('first')).map((a) => a.outcome), ['succeeded'], 'the finished task was not re-run');
      assert.deepEqual((await attemptsOf('slow')).map((a) => a.outcome), ['lost', 'succeeded']);
      assert.deepEqual((await attemptsOf('last')).map((a) => a.outcome), ['succeeded']);
      assert.equal((await getRun(db, runId))!.state, 'succeeded');
    } finally {
      await tutti.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
