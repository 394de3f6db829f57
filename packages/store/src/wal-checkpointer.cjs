// The embedded store's WAL checkpointer, run in a worker thread with its own connection
// (started by sqlite.ts). Copying the WAL into the database file and fsyncing it can take
// hundreds of milliseconds; done here it never blocks the server's event loop, where every
// request and every commit runs. A PASSIVE checkpoint waits for no one: the server keeps
// reading and committing while it runs, and the next commit after a complete one starts the
// WAL from its beginning again (cutting the file back to 512 KB), so the file stays small.
// Errors are reported to the parent and the next round tries again (the server's own commit
// stays the only thing durability rests on).
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require('better-sqlite3');

const { filename, everyMs, minWalBytes } = workerData;
const db = new Database(filename);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = FULL');
const wal = `${filename}-wal`;
let stopped = false;
// The WAL as the last complete checkpoint left it: while it is unchanged there is nothing to copy.
let done = null;

function walFile() {
  try {
    const s = statSync(wal);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

const timer = setInterval(() => {
  const before = walFile();
  if (stopped || !before || before.size < minWalBytes) return;
  if (done && done.size === before.size && done.mtimeMs === before.mtimeMs) return;
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    done = row.busy === 0 && row.log === row.checkpointed ? before : null;
    parentPort.postMessage({ kind: 'checkpoint', busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (e) {
    parentPort.postMessage({ kind: 'error', message: String(e && e.message ? e.message : e) });
  }
}, everyMs);

parentPort.on('message', (m) => {
  if (m !== 'stop' || stopped) return;
  stopped = true;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
