// Where a commit's writes go on the embedded store: preloaded into a benchmark
// (`node -r ./bench/wal-pages.cjs --import tsx bench/ingest-http.ts 20000`), it reads the WAL
// frames each transaction of the store's connection appends at its commit and names the table
// or index each page belongs to (SQLite's `dbstat`, read once, at the first commit looked at:
// pages allocated after that count as "new"). At exit it prints the frames per commit by b-tree,
// over WAL_PAGES_COMMITS commits (40) from the WAL_PAGES_FROM-th (300), after the warm-up.
// A measuring aid only: it times nothing, and the frames a commit writes are the pages it
// dirtied, which is what the commit (and later the checkpoint) copies.
'use strict';
const { closeSync, openSync, readSync, statSync } = require('node:fs');
const Database = require(require.resolve('better-sqlite3', { paths: [process.cwd()] }));

const from = Number(process.env.WAL_PAGES_FROM ?? 300);
const count = Number(process.env.WAL_PAGES_COMMITS ?? 40);
// A WAL frame: a 24-byte header whose first 4 bytes are the page number, then the page.
const HEADER = 24;

const probe = new Database(':memory:');
const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
probe.close();
const run = Statement.run;
const byTree = new Map();
let seen = 0, measured = 0, frames = 0;
let owner = null;

function walSize(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

Statement.run = function (...args) {
  // Kysely ends a transaction with a prepared `commit`; other statements pass through untouched.
  if (this.source !== 'commit') return run.apply(this, args);
  seen++;
  if (seen < from || measured >= count) return run.apply(this, args);
  const wal = `${this.database.name}-wal`;
  const before = walSize(wal);
  const out = run.apply(this, args);
  const after = walSize(wal);
  // A commit that began the WAL again from its start (after a complete checkpoint) is not counted.
  if (after <= before) return out;
  if (!owner) {
    owner = new Map();
    for (const r of this.database.prepare('SELECT name, pageno FROM dbstat').all()) owner.set(r.pageno, r.name);
  }
  const pageSize = this.database.pragma('page_size', { simple: true });
  const bytes = Buffer.alloc(after - before);
  const fd = openSync(wal, 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, before);
  } finally {
    closeSync(fd);
  }
  for (let at = 0; at + HEADER + pageSize <= bytes.length; at += HEADER + pageSize) {
    const name = owner.get(bytes.readUInt32BE(at)) ?? 'new';
    byTree.set(name, (byTree.get(name) ?? 0) + 1);
    frames++;
  }
  measured++;
  return out;
};

process.on('exit', () => {
  if (measured === 0) return;
  const lines = [`WAL frames per commit over ${measured} commits from the ${from}th: ${(frames / measured).toFixed(0)}`];
  for (const [name, n] of [...byTree].sort((a, b) => b[1] - a[1])) {
    if (n / measured >= 1) lines.push(`${(n / measured).toFixed(0).padStart(8)}  ${name}`);
  }
  process.stderr.write(`${lines.join('\n')}\n`);
});
