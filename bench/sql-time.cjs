// Where the embedded store's SQL time goes: preloaded into a benchmark
// (`node -r ./bench/sql-time.cjs --import tsx bench/ingest-http.ts 20000`), it times every
// better-sqlite3 statement run by its text (multi-row VALUES lists folded into one) and prints,
// at exit, the SQL_TIME_TOP (30) statements that took longest: time, runs, rows they wrote (the
// VALUES rows of multi-row statements) and their text. Every connection of the process is counted
// (the server's, the event log's and the checkpointer's threads print their own table).
'use strict';
const Database = require(require.resolve('better-sqlite3', { paths: [process.cwd()] }));

const top = Number(process.env.SQL_TIME_TOP ?? 30);
const probe = new Database(':memory:');
const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
probe.close();
const byText = new Map();

function keyOf(source) {
  return source.replace(/\s+/g, ' ').replace(/\(\?(, ?\?)*\)(, ?\(\?(, ?\?)*\))*/g, '(?…)').slice(0, 160);
}

for (const method of ['run', 'all', 'get', 'iterate']) {
  const original = Statement[method];
  Statement[method] = function (...args) {
    const began = process.hrtime.bigint();
    try {
      return original.apply(this, args);
    } finally {
      const ms = Number(process.hrtime.bigint() - began) / 1e6;
      let e = byText.get(this.source);
      if (!e) byText.set(this.source, (e = { ms: 0, runs: 0, rows: 0 }));
      e.ms += ms;
      e.runs++;
      e.rows += /^\s*(INSERT|WITH)/i.test(this.source) ? (this.source.match(/\(\?/g) ?? []).length : 0;
    }
  };
}

process.on('exit', () => {
  const folded = new Map();
  for (const [source, e] of byText) {
    const k = keyOf(source);
    const f = folded.get(k) ?? { ms: 0, runs: 0, rows: 0 };
    f.ms += e.ms;
    f.runs += e.runs;
    f.rows += e.rows;
    folded.set(k, f);
  }
  if (folded.size === 0) return;
  let total = 0;
  for (const f of folded.values()) total += f.ms;
  const lines = [`SQL time of this thread: ${total.toFixed(0)} ms`, '      ms      runs      rows  statement'];
  for (const [k, f] of [...folded].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    lines.push(`${f.ms.toFixed(0).padStart(8)}  ${String(f.runs).padStart(8)}  ${String(f.rows).padStart(8)}  ${k}`);
  }
  process.stderr.write(`${lines.join('\n')}\n`);
});
