'use strict';
// The core's folders are floors: each imports only floors below it, and nothing imports in a circle. A newcomer can
// then read the tree bottom-up, and a change to serving can never reach down into capture.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const CORE = path.join(__dirname, '..', '..', 'src', 'core');
/** Lower floors first; folders on one floor never import each other. */
const FLOORS = [['util'], ['jpeg'], ['ffmpeg'], ['hwaccel'], ['capture'], ['stream', 'motion'], ['serve', 'health'], ['page']];
const floorOf = new Map(FLOORS.flatMap((names, i) => names.map((n) => [n, i])));

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, type-only and dynamic), resolved to files under src/core. */
function importsOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(/(?:from|import\(|require\()\s*'(\.{1,2}\/[^']+)'/g)) {
    out.push(path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '') + '.ts');
  }
  return out;
}

/** The folder of a core file ('' for core/index.ts and core/types.ts). */
function folderOf(file) {
  const rel = path.relative(CORE, file).split(path.sep);
  return rel.length > 1 ? rel[0] : '';
}

describe('core layout', function () {
  const files = sources(CORE);

  it('every folder of src/core is a known floor, and only index.ts and types.ts lie at the top', function () {
    for (const f of files) {
      const folder = folderOf(f);
      if (folder === '') assert.ok(['index.ts', 'types.ts'].includes(path.basename(f)), `${path.relative(CORE, f)} belongs in a folder`);
      else assert.ok(floorOf.has(folder), `src/core/${folder}/ is on no floor: add it to FLOORS`);
    }
  });

  it('each folder imports only its own files, types.ts and folders on lower floors', function () {
    const wrong = [];
    for (const f of files) {
      const from = folderOf(f);
      if (from === '') continue;
      for (const target of importsOf(f)) {
        const to = folderOf(target);
        if (to === from || (to === '' && path.basename(target) === 'types.ts')) continue;
        if (!(floorOf.get(to) < floorOf.get(from))) wrong.push(`${path.relative(CORE, f)} -> ${path.relative(CORE, target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('no file imports itself through a circle', function () {
    const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => fs.existsSync(t))]));
    const state = new Map();
    const cycles = [];
    const visit = (f, trail) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(CORE, x)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });

  it('at most two files over 500 lines', function () {
    const long = files.filter((f) => fs.readFileSync(f, 'utf8').split('\n').length > 500).map((f) => path.relative(CORE, f));
    assert.ok(long.length <= 2, `over 500 lines: ${long.join(', ')}`);
  });
});
