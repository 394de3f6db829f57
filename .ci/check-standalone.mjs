#!/usr/bin/env node
// Fails when a tracked file refers to something outside the repository: a relative import,
// a Markdown link or a quoted relative path that climbs above the checkout, or a document that
// a clone from a public host does not have. A fresh clone must build, test and read alone.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);

const TEXT = /\.(ts|tsx|js|mjs|cjs|json|md|html|css|sh|yml|yaml|sql)$|(^|\/)(run|Makefile)$/;
// Documents that live beside the checkout, never in it (split so this file does not name them).
const OUTSIDE_DOCS = [['..', 'shared'].join('/'), ['SP', 'EC.md'].join('')];
// The first wave's contract was called the spec; Strata's own is docs/reference.md.
const SPEC_WORD = new RegExp(['\\bS', 'PEC\\b(?![_A-Z])'].join(''));
// A quoted or linked relative path: import specifiers, require/import() calls, Markdown links.
const RELATIVE = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|\]\()['"]?(\.\.?\/[^'")\s#?]+)/g;

const faults = [];
for (const file of files) {
  if (!TEXT.test(file) || file === 'package-lock.json') continue;
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    continue; // a deleted but not yet committed file
  }
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    for (const doc of OUTSIDE_DOCS) {
      if (line.includes(doc)) faults.push(`${file}:${i + 1}: names ${doc}, which is not in the repository`);
    }
    if (SPEC_WORD.test(line)) faults.push(`${file}:${i + 1}: cites a spec outside the repository (docs/reference.md is Strata's own)`);
    for (const m of line.matchAll(RELATIVE)) {
      const target = resolve(root, dirname(file), m[1]);
      const rel = relative(root, target);
      if (rel === '..' || rel.startsWith(`..${sep}`)) faults.push(`${file}:${i + 1}: ${m[1]} points outside the repository`);
    }
  });
}

if (faults.length > 0) {
  console.error(`check-standalone: ${faults.length} reference(s) to paths outside the repository:`);
  for (const f of faults) console.error(`  ${f}`);
  process.exit(1);
}
console.log(`check-standalone: ${files.length} tracked files, none refers to a path outside the repository`);
