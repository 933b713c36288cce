'use strict';
// The editor's shared rules (resources/editor-rules.js, loaded by the edit dialogs) against the runtime's: the path
// rule the mjpeg out and metrics dialogs validate with must accept and normalise exactly what the runtime's route
// table does, so a path the editor shows valid is served as shown and one it flags is one the runtime refuses.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { normalisePath } = require('../../dist/core/serve/route-table');

const ROOT = path.join(__dirname, '..', '..');

/** The editor's glimpserEditor object, as the dialogs get it in the browser. */
function editorRules() {
  const window = {};
  vm.runInNewContext(fs.readFileSync(path.join(ROOT, 'resources', 'editor-rules.js'), 'utf8'), { window, $: () => ({ length: 0 }) });
  return window.glimpserEditor;
}

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

  it('no dialog keeps a path rule of its own that differs from the shared one', function () {
    const shared = /var PATH_RE = (\/.*\/);/.exec(fs.readFileSync(path.join(ROOT, 'resources', 'editor-rules.js'), 'utf8'))[1];
    const dir = path.join(ROOT, 'nodes');
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.html'))) {
      for (const m of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/PATH_RE = (\/.*\/);/g)) assert.equal(m[1], shared, `${file} copies the path rule differently`);
    }
  });
});
