#!/usr/bin/env node
// Checks that imports in src/ point one way (DESIGN.md, issue 13): the CLI and HTTP are two peers on top, and
// nothing below them imports either. Exits 1 and lists every violating import when there is one.
//
//   node scripts/import-graph.mjs            check src/ of this checkout
//   node scripts/import-graph.mjs --cycles   also list import cycles between files (informational)
//   node scripts/import-graph.mjs --root DIR check another checkout
//
// Rules (paths relative to src/):
//   - cli/** never imports http/**, and http/** never imports cli/**;
//   - only cli/** imports cli/**;
//   - only http/**, service.ts and main.ts (the server's composition root) import http/**.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const args = process.argv.slice(2);
const rootArg = args.includes('--root') ? args[args.indexOf('--root') + 1] : '.';
const src = resolve(rootArg, 'src');
const showCycles = args.includes('--cycles');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return /\.(ts|js|mjs)$/.test(name) ? [p] : [];
  });
}

const IMPORT_RE = /\b(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
const rel = (p) => relative(src, p).split(sep).join('/');

/** file (relative to src) → the src files it imports (relative to src) */
const graph = new Map();
for (const file of walk(src)) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:'"`])\/\/.*$/gm, '$1');
  const targets = new Set();
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) continue;
    targets.add(rel(target));
  }
  graph.set(rel(file), [...targets].sort());
}

const area = (f) => (f.startsWith('cli/') ? 'cli' : f.startsWith('http/') ? 'http' : f === 'service.ts' || f === 'main.ts' ? 'root' : 'below');

function violation(from, to) {
  const a = area(from);
  const b = area(to);
  if (b === 'cli' && a !== 'cli') return a === 'http' ? 'http imports cli' : `${a === 'root' ? from : 'below'} imports cli`;
  if (b === 'http' && a === 'cli') return 'cli imports http';
  if (b === 'http' && a === 'below') return 'below imports http';
  return null;
}

const violations = [];
for (const [from, targets] of graph) {
  for (const to of targets) {
    const why = violation(from, to);
    if (why) violations.push({ from, to, why });
  }
}
violations.sort((x, y) => x.why.localeCompare(y.why) || x.from.localeCompare(y.from));

if (violations.length === 0) console.log(`import graph: ${graph.size} files, no violations`);
else {
  console.log(`import graph: ${graph.size} files, ${violations.length} violating import(s):`);
  for (const v of violations) console.log(`  ${v.why.padEnd(22)} src/${v.from} → src/${v.to}`);
}

if (showCycles) {
  // Tarjan's strongly connected components: every component of more than one file is a cycle.
  let index = 0;
  const stack = [];
  const info = new Map();
  const cycles = [];
  const strong = (v) => {
    info.set(v, { index, low: index, on: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!info.has(w)) {
        strong(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).on = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!info.has(v)) strong(v);
  console.log(cycles.length ? `${cycles.length} import cycle(s):` : 'no import cycles');
  for (const c of cycles) console.log(`  ${c.length} files: ${c.map((f) => `src/${f}`).join(', ')}`);
}

process.exit(violations.length ? 1 : 0);
