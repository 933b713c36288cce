'use strict';
// The editor's shared rules (resources/editor-rules.js, loaded by the edit dialogs) against the runtime's: the path
// rule the mjpeg out and metrics dialogs validate with must accept and normalise exactly what the runtime's route
// table does, so a path the editor shows valid is served as shown and one it flags is one the runtime refuses.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { normalisePath } = require('../../dist/core/serve/route-table');
const { upstreamStreams, streamNameOf } = require('../../dist/nodes/stream-ref');

const ROOT = path.join(__dirname, '..', '..');

/** The editor's glimpserEditor object, as the dialogs get it in the browser. */
function editorRules() {
  const window = {};
  vm.runInNewContext(fs.readFileSync(path.join(ROOT, 'resources', 'editor-rules.js'), 'utf8'), { window, $: () => ({ length: 0 }) });
  return window.glimpserEditor;
}

const cam = (id, props = {}) => ({ id, type: 'glimpser-ffmpeg-source', name: id, source: 'testsrc2', ...props });
const node = (id, type, wires = [], props = {}) => ({ id, type, wires: [wires], ...props });
const OUT = { id: 'out', type: 'glimpser-mjpeg-out', wires: [] };

/** Flows and the streams upstream of `out` in each, by name. */
const FLOWS = {
  'wired straight': [[cam('front', { wires: [['out']] }), OUT], ['front']],
  'a change and a function between': [[cam('front', { wires: [['chg']] }), node('chg', 'change', ['fn']), node('fn', 'function', ['out']), OUT], ['front']],
  'a switch, a second port': [[cam('front', { wires: [['sw']] }), { id: 'sw', type: 'switch', wires: [[], ['out']] }, OUT], ['front']],
  'a link out / link in pair': [[cam('front', { wires: [['lo']] }), node('lo', 'link out', [], { links: ['li'] }), node('li', 'link in', ['out'], { links: ['lo'] }), OUT], ['front']],
  'a link in listing its link out only': [[cam('front', { wires: [['lo']] }), node('lo', 'link out', [], { links: [] }), node('li', 'link in', ['out'], { links: ['lo'] }), OUT], ['front']],
  'a loop between': [[cam('front', { wires: [['a']] }), node('a', 'function', ['b']), { id: 'b', type: 'function', wires: [['a', 'out']] }, OUT], ['front']],
  'a junction between': [[cam('front', { wires: [['j1']] }), { id: 'j1', type: 'junction', wires: [['out']] }, OUT], ['front']],
  'two cameras through a join': [[cam('front', { wires: [['j']] }), cam('back', { wires: [['j']], pool: 'p1' }), node('j', 'join', ['out']), OUT], ['front', 'back']],
  'two sources of one stream': [[cam('a', { name: 'front', wires: [['out']] }), cam('b', { name: 'front', wires: [['chg']] }), node('chg', 'change', ['out']), OUT], ['front']],
  'no camera': [[node('inj', 'inject', ['out']), OUT], []],
  'a disabled camera': [[cam('front', { d: true, wires: [['out']] }), OUT], []],
  'a camera on a disabled flow': [[{ id: 't1', type: 'tab', disabled: true }, cam('front', { z: 't1', wires: [['out']] }), OUT], []],
  'a link call passes on what came in, not what its called flow starts': [
    [
      cam('front', { wires: [['call']] }),
      node('call', 'link call', ['out'], { links: ['li'] }),
      node('li', 'link in', ['fn'], { links: [] }),
      cam('inside', { wires: [['fn']] }),
      node('fn', 'function', ['ret']),
      node('ret', 'link out', [], { mode: 'return', links: [] }),
      OUT,
    ],
    ['front'],
  ],
  'a camera that triggers another: only the nearer': [[cam('first', { wires: [['second']] }), cam('second', { wires: [['out']] }), OUT], ['second']],
  'a camera named by its source': [[cam('x', { name: '', source: 'rtsp://cam/live/porch', wires: [['out']] }), OUT], ['cam-live-porch']],
};

const PATHS = [
  '/glimpser/front.mjpg', 'glimpser/front.mjpg', ' /glimpser/front.mjpg ', '/glimpser/front.mjpg/', '/glimpser/front.mjpg///',
  '/a', 'a', '/', '//', '', '   ', '/a b', '/a?x=1', '/a#b', '//a', '/a//b', '/a/./b', '/ä', '/a%20b', "/a!$&'()*+,;=:@-._~",
  '/a\\b', '/a"b', '/a<b>', '/a|b', '/a^b', '/a`b', '/a{b}', '/a[b]', '\t/a\n', '/A/B/C.JPG', 42, undefined, null, {}, ['/a'],
];

describe('editor rules shared by the dialogs (resources/editor-rules.js)', function () {
  it('normalisePath: the editor accepts and normalises every path exactly as the runtime does', function () {
    const editor = editorRules();
    const mismatches = PATHS.filter((p) => editor.normalisePath(p) !== normalisePath(p)).map(
      (p) => `${JSON.stringify(p)}: editor ${JSON.stringify(editor.normalisePath(p))}, runtime ${JSON.stringify(normalisePath(p))}`,
    );
    assert.deepEqual(mismatches, []);
    // The table holds both kinds: a rule that refused (or accepted) everything would pass the comparison alone.
    assert.ok(PATHS.filter((p) => normalisePath(p) !== undefined).length >= 8);
    assert.ok(PATHS.filter((p) => normalisePath(p) === undefined).length >= 8);
  });

  it('upstreamStreams: the editor finds the same cameras upstream of a node as the runtime, through any nodes and link nodes', function () {
    const editor = editorRules();
    for (const [what, [flow, expected]] of Object.entries(FLOWS)) {
      const runtime = upstreamStreams(flow, 'out').streams;
      assert.deepEqual(runtime.map((r) => r.name), expected, `runtime: ${what}`);
      const inEditor = [...editor.upstreamStreams(flow, 'out', streamNameOf)].map((r) => ({ name: r.name, poolId: r.pool }));
      assert.deepEqual(inEditor, runtime, `editor: ${what}`);
    }
  });

  it('no dialog keeps a path rule of its own that differs from the shared one', function () {
    const shared = /var PATH_RE = (\/.*\/);/.exec(fs.readFileSync(path.join(ROOT, 'resources', 'editor-rules.js'), 'utf8'))[1];
    const dir = path.join(ROOT, 'nodes');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.html'))) {
      for (const m of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/PATH_RE = (\/.*\/);/g)) assert.equal(m[1], shared, `${file} copies the path rule differently`);
    }
  });
});
