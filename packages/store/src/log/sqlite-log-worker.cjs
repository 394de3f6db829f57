// The embedded event log's own thread (started by sqlite-log.ts): it owns the log's SQLite
// connection, so that the fsync each append waits for happens here, never on the server's
// event loop. Requests come as messages { id, op, ... } and each gets one answer { id, ok, ... }.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');

let db;
try {
  db = new Database(workerData.filename);
  db.pragma('journal_mode = WAL');
  // An append is acknowledged to clients once it returns: it must be on the disk by then.
  db.pragma('synchronous = FULL');
  // Trimmed records (an erased user's events among them) leave no readable bytes behind.
  db.pragma('secure_delete = ON');
  db.pragma('journal_size_limit = 4194304');
  // AUTOINCREMENT: a position is never given twice, even after every record was trimmed.
  db.exec(`CREATE TABLE IF NOT EXISTS records (position INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL, partition INTEGER NOT NULL, received_at INTEGER NOT NULL, payload TEXT NOT NULL)`);
  db.exec('CREATE INDEX IF NOT EXISTS records_partition ON records (partition, position)');
} catch (e) {
  parentPort.postMessage({ id: 0, ok: false, error: String(e && e.message ? e.message : e), code: e && e.code });
  process.exit(1);
}

const insert = db.prepare('INSERT INTO records (project_id, partition, received_at, payload) VALUES (?, ?, ?, ?)');
const appendAll = db.transaction((rows) => rows.map((r) => Number(insert.run(r.projectId, r.partition, r.receivedAt, r.payload).lastInsertRowid)));
const readAfter = db.prepare('SELECT position, project_id AS projectId, partition, received_at AS receivedAt, payload FROM records WHERE partition = ? AND position > ? ORDER BY position LIMIT ?');
const readAllAfter = db.prepare('SELECT position, project_id AS projectId, partition, received_at AS receivedAt, payload FROM records WHERE position > ? ORDER BY position LIMIT ?');
const trimTo = db.prepare('DELETE FROM records WHERE partition = ? AND position <= ?');
const trimAllTo = db.prepare('DELETE FROM records WHERE position <= ?');
const headOf = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'records'");
const continueAfter = db.transaction((position) => {
  const head = headOf.get()?.seq ?? 0;
  if (head >= position) return head;
  if (db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'").run(position).changes === 0) {
    db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('records', ?)").run(position);
  }
  return position;
});

const ops = {
  append: (m) => ({ positions: appendAll(m.rows) }),
  read: (m) => ({ rows: m.partition === null ? readAllAfter.all(m.after, m.max) : readAfter.all(m.partition, m.after, m.max), head: headOf.get()?.seq ?? 0 }),
  trim: (m) => ({ deleted: (m.partition === null ? trimAllTo.run(m.position) : trimTo.run(m.partition, m.position)).changes }),
  head: () => ({ head: headOf.get()?.seq ?? 0 }),
  continueAfter: (m) => ({ head: continueAfter(m.position) }),
  // secure_delete zeroed the trimmed records' cells; the checkpoint writes those pages into the
  // file and empties the WAL, where the records' earlier pages were.
  forgetTrimmed: () => ({ checkpoint: db.pragma('wal_checkpoint(TRUNCATE)')[0] }),
};

parentPort.on('message', (m) => {
  if (m.op === 'close') {
    db.close();
    parentPort.postMessage({ id: m.id, ok: true });
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, ok: true, ...ops[m.op](m) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(e && e.message ? e.message : e), code: e && e.code });
  }
});
parentPort.postMessage({ id: 0, ok: true });
