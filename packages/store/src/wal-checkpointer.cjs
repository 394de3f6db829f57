// The embedded store's WAL checkpointer, run in a worker thread with its own connection
// (started by sqlite.ts). Copying the WAL into the database file and fsyncing it can take
// hundreds of milliseconds; done here it never blocks the server's event loop, where every
// request and every commit runs. A PASSIVE checkpoint waits for no one: the server keeps
// reading and committing while it runs, and the next commit after a complete one starts the
// WAL from its beginning again, writing over the file rather than extending it (the file keeps
// its size, up to sqlite.ts's limit). How much the WAL holds is therefore not the file's size:
// it is the wal-index header's mxFrame (the last valid frame), read from the `-shm` file, whose
// layout SQLite documents (the WAL-index format: a native-order u32 at byte 16).
// Errors are reported to the parent and the next round tries again (the server's own commit
// stays the only thing durability rests on).
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, openSync, readSync, statSync } = require('node:fs');
const { endianness } = require('node:os');
const Database = require('better-sqlite3');

const { filename, everyMs, minWalBytes } = workerData;
const db = new Database(filename);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = FULL');
const wal = `${filename}-wal`;
const frameBytes = db.pragma('page_size', { simple: true }) + 24;
const header = Buffer.alloc(4);
let stopped = false;
// The WAL as the last complete checkpoint left it: while it is unchanged there is nothing to copy.
let done = null;

/** The bytes of frames the WAL holds since it last started over (null: no WAL yet), and when it was last written. */
function walFile() {
  let s;
  try {
    s = statSync(wal);
  } catch {
    return null;
  }
  let fd;
  try {
    fd = openSync(`${filename}-shm`, 'r');
    const read = readSync(fd, header, 0, 4, 16);
    if (read === 4) return { bytes: (endianness() === 'LE' ? header.readUInt32LE(0) : header.readUInt32BE(0)) * frameBytes, mtimeMs: s.mtimeMs };
  } catch {
    // No index to read (yet): the file's size is an upper bound.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { bytes: s.size, mtimeMs: s.mtimeMs };
}

const timer = setInterval(() => {
  const before = walFile();
  if (stopped || !before || before.bytes < minWalBytes) return;
  if (done && done.bytes === before.bytes && done.mtimeMs === before.mtimeMs) return;
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
