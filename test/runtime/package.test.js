'use strict';
// What a user installs: the package's main entry and the node files Node-RED loads from package.json.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const pkg = require('../../package.json');

describe('package layout', function () {
  it('registers every node with a .js entry that exports a function and an .html editor file beside it', function () {
    // The viewer page is a set with no node type (it serves a page for the whole runtime): no editor file.
    const RUNTIME_ONLY = ['glimpser-viewer-page'];
    const all = Object.entries(pkg['node-red'].nodes);
    assert.deepEqual(all.map(([name]) => name).sort(), ['glimpser-ffmpeg-source', 'glimpser-hwaccel-config', 'glimpser-metrics', 'glimpser-mjpeg-out',
      'glimpser-motion-detect', 'glimpser-process-pool', 'glimpser-stream-health', 'glimpser-viewer-page']);
    for (const name of RUNTIME_ONLY) {
      const entry = path.join(__dirname, '..', '..', pkg['node-red'].nodes[name]);
      assert.equal(typeof require(entry), 'function', `${name} exports a register function`);
      assert.ok(!fs.existsSync(entry.replace(/\.js$/, '.html')), `${name}: no editor file (Node-RED would look for node types in it)`);
      assert.ok(fs.existsSync(entry.replace(/([^/]+)\.js$/, 'locales/en-US/$1.json')), `${name}: its messages`);
    }
    const nodes = all.filter(([name]) => !RUNTIME_ONLY.includes(name));
    for (const [name, file] of nodes) {
      const entry = path.join(__dirname, '..', '..', file);
      assert.equal(typeof require(entry), 'function', `${name}: ${file} exports a register function`);
      const html = fs.readFileSync(entry.replace(/\.js$/, '.html'), 'utf8');
      assert.match(html, new RegExp(`registerType\\('${name}'`), `${name}: editor definition`);
      // Help beside the editor file, or where Node-RED looks for translated help: locales/en-US/<basename>.html.
      const localHelp = entry.replace(/([^/]+)\.js$/, 'locales/en-US/$1.html');
      const help = html + (fs.existsSync(localHelp) ? fs.readFileSync(localHelp, 'utf8') : '');
      assert.match(help, new RegExp(`data-help-name="${name}"`), `${name}: help text`);
    }
  });

  it('the main entry exposes the Node-RED-free core, and it streams frames', async function () {
    this.timeout(15000);
    const glimpser = require('../..');
    const pool = new glimpser.ProcessPool({ idleGraceMs: 0 });
    try {
      const lease = pool.acquire({ source: 'testsrc2=size=160x120:rate=10', fps: 10, quality: 8 });
      const frame = await new Promise((resolve) => lease.capture.once('frame', resolve));
      assert.equal(frame.jpeg[0], 0xff);
      assert.equal(frame.jpeg[1], 0xd8);
      lease.release();
    } finally {
      await pool.close();
    }
  });

  it('depends on exactly the packages the built code loads', function () {
    // A dependency nothing loads is not harmless: @node-red/util 4.x took the top-level slot in node_modules and
    // broke Node-RED 5 (which then got a nested, uninitialised copy).
    const dist = path.join(__dirname, '..', '..', 'dist');
    const loaded = new Set();
    for (const file of fs.readdirSync(dist, { recursive: true }).filter((f) => f.endsWith('.js'))) {
      const code = fs.readFileSync(path.join(dist, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const [, spec] of code.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        loaded.add(spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'));
      }
    }
    // cors is the http-in node's own, taken from the Node-RED runtime (src/nodes/http-routes.ts), never installed by us.
    loaded.delete('cors');
    const declared = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})];
    assert.deepEqual([...loaded].sort(), declared.sort());
  });

  it('ships what Node-RED needs: dist (with the motion kernel), nodes, the editor\'s resources, examples, the Grafana dashboard, the viewer page', function () {
    // The compiler's incremental state stays out of the package.
    assert.deepEqual(pkg.files.sort(), ['!dist/.tsbuildinfo', 'README.md', 'dist/', 'examples/', 'grafana/', 'nodes/', 'resources/', 'viewer/']);
    assert.ok(fs.existsSync(path.join(__dirname, '..', '..', 'resources', 'editor-rules.js')), 'resources/editor-rules.js');
    for (const f of ['index.html', 'viewer.js', 'worker.js', 'render.js', 'viewer.css', 'icon.svg']) {
      assert.ok(fs.existsSync(path.join(__dirname, '..', '..', 'viewer', f)), `viewer/${f}`);
    }
    assert.ok(fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'core', 'motion', 'kernel.wasm')), 'npm run build compiles the kernel');
    for (const f of fs.readdirSync(path.join(__dirname, '..', '..', 'examples'))) {
      const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'examples', f), 'utf8'));
      assert.ok(Array.isArray(flow) && flow.length > 0, `${f} is an importable flow`);
      // A property the editor defines but the flow lacks shows the node as invalid (a red triangle) after import.
      for (const n of flow.filter((x) => x.type.startsWith('glimpser-'))) {
        const html = fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', `${n.type.replace('glimpser-', '')}.html`), 'utf8');
        const keys = [...html.matchAll(/^\s*([a-zA-Z]+): \{ value:/gm)].map((m) => m[1]);
        assert.ok(keys.length > 3, `${n.type}: defaults found`);
        for (const k of keys) assert.ok(k in n, `${f}: ${n.type} ${n.id} lacks ${k}`);
      }
    }
  });

  it('ships a Grafana dashboard (outside examples/, where Node-RED would list it as a flow) querying only metrics we export', async function () {
    const dashboard = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'grafana', 'glimpser-dashboard.json'), 'utf8'));
    const { StreamMetrics } = require('../../dist/core/health/metrics');
    const exported = new StreamMetrics().registry.getMetricsAsArray().map((m) => m.name);
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    assert.ok(queries.length >= 10);
    const used = new Set(queries.flatMap((q) => [...q.matchAll(/\b(glimpser_[a-z_]+?)(?:_bucket)?\{/g)].map((m) => m[1])));
    for (const name of used) assert.ok(exported.includes(name), `${name} is exported`);
    for (const name of ['glimpser_camera_fps', 'glimpser_camera_state', 'glimpser_camera_viewers', 'glimpser_ffmpeg_cpu_seconds_total', 'glimpser_camera_delivery_latency_seconds']) {
      assert.ok(used.has(name), `the dashboard shows ${name}`);
    }
  });
  it('examples: one per node type, and one broker for all, which reaches Home Assistant\'s Mosquitto add-on as imported and says in its dialog what to change', function () {
    const dir = path.join(__dirname, '..', '..', 'examples');
    const flows = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]));
    const types = Object.keys(pkg['node-red'].nodes).filter((t) => t !== 'glimpser-viewer-page');
    // Beside the demo, which has them all, each node type has an example of its own.
    for (const t of types) {
      assert.ok(Object.entries(flows).some(([f, flow]) => f !== 'demo.json' && flow.some((n) => n.type === t)), `an example with ${t}`);
    }
    assert.ok(flows['hardware-decoding.json'].some((n) => n.type === 'glimpser-hwaccel-config'));
    const brokers = Object.entries(flows).flatMap(([f, flow]) => flow.filter((n) => n.type === 'mqtt-broker').map((n) => ({ f, n })));
    assert.ok(brokers.length >= 3, 'the MQTT examples have a broker');
    // The same config node (id and settings) everywhere: importing a second example adds no second broker.
    for (const { f, n } of brokers) assert.deepEqual(n, brokers[0].n, `${f}: the one broker node`);
    const broker = brokers[0].n;
    assert.equal(broker.name, 'Home Assistant broker');
    assert.equal(broker.broker, 'core-mosquitto');
    assert.equal(broker.port, '1883');
    assert.match(broker.info, /Security tab/);
    for (const [f, flow] of Object.entries(flows)) {
      for (const n of flow.filter((x) => x.broker !== undefined && x.type !== 'mqtt-broker')) assert.equal(n.broker, broker.id, `${f}: ${n.type} uses the one broker`);
      // No raw environment variable, no fixed local address a Home Assistant add-on cannot reach.
      assert.doesNotMatch(JSON.stringify(flow), /\$\{|127\.0\.0\.1|localhost/, `${f}`);
      if (flow.some((n) => n.type === 'mqtt-broker')) {
        assert.ok(flow.some((n) => n.type === 'comment' && /Home Assistant broker/.test(n.name) && /Security tab/.test(n.name)), `${f}: a comment says what to change`);
      }
    }
  });
});
