/**
 * Worker-thread entry: checkpoints an embedded database's WAL on a connection of its own. SQLite's
 * automatic checkpoint runs inside the commit that crosses its threshold, on the committing thread:
 * there it copied ~1,000 pages into the database file and fsynced both files in the middle of the
 * event loop, a 2-12 ms stall every few hundred commits. A passive checkpoint never blocks writers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'libsql';

const port = parentPort!;
const db = new Database((workerData as { file: string }).file, { timeout: 5000 } as never);

port.on('message', (msg: 'checkpoint' | 'close') => {
  if (msg === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    port.postMessage({ ok: true });
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).message });
  }
});
