'use strict';
// What a user gets from the registry: this tree copied as a clean clone would have it (no dist/), packed with
// `npm pack` (prepack builds), the tarball installed into a fresh Node-RED user directory exactly as the palette
// manager installs a package, and the Node-RED under test (helpers/node-red.js) started on it with the demo flow.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');
const pkg = require('../../package.json');
/** Node sets with no node type and so no editor file: the viewer page. */
const RUNTIME_ONLY = ['glimpser-viewer-page'];
const { nodeRedVersion } = require('../helpers/node-red');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { openStream, nextParts, fetchBuffer, isCompleteJpeg } = require('../helpers/mjpeg-client');
const { childrenOf, isAlive, waitFor } = require('../helpers/procs');
const { withBroker } = require('../../scripts/demo-flow');

const root = path.resolve(__dirname, '..', '..');

/** The files a `git clone` of this tree would have: tracked and new files, nothing git ignores (so no dist/). */
function copyAsClone(dest) {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  for (const file of listed.split('\0').filter(Boolean)) {
    const from = path.join(root, file);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet committed
    fs.mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    fs.copyFileSync(from, path.join(dest, file));
  }
  // prepack needs the dev tools (tsc, wabt) that `npm ci` would install; this tree's are the same.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
}

/**
 * npm as the test runs it (under `npm test`, the same npm and Node), without the variables the outer npm set for
 * its own script: npm_config_local_prefix and friends would point the inner npm back at this checkout.
 */
function npm(args, cwd) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(cache|registry|userconfig|globalconfig|cafile)$/i.test(k)) continue;
    if (k === 'INIT_CWD') continue;
    env[k] = v;
  }
  const cli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : undefined;
  const [cmd, argv] = cli ? [process.execPath, [cli, ...args]] : ['npm', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`npm ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

async function startBroker() {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, close: () => new Promise((resolve) => broker.close(() => server.close(() => resolve()))) };
}

describe(`the packed tarball, installed as the palette manager does (Node-RED ${nodeRedVersion}, Node ${process.versions.node})`, function () {
  this.timeout(60000);
  let stage;
  let tarball;
  let tarFiles;
  let installLog;
  let userDir;
  let broker;
  let client;
  let nr;

  before(async function () {
    this.timeout(240000);
    stage = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-pack-'));
    const clone = path.join(stage, 'clone');
    copyAsClone(clone);
    await npm(['pack', '--pack-destination', stage, '--silent'], clone);
    const packed = fs.readdirSync(stage).filter((f) => f.endsWith('.tgz'));
    assert.deepEqual(packed, [`${pkg.name}-${pkg.version}.tgz`]);
    tarball = path.join(stage, packed[0]);
    tarFiles = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter((f) => f && !f.endsWith('/'));

    // Node-RED creates this package.json in a new user directory; the palette manager installs beside it.
    userDir = path.join(stage, 'user');
    fs.mkdirSync(userDir);
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }, null, 4));
    installLog = await npm(['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict', tarball], userDir);
  });

  after(async function () {
    client?.end(true);
    if (nr && nr.child.exitCode === null && nr.child.signalCode === null) {
      nr.child.kill('SIGKILL');
      await nr.exited;
    }
    await broker?.close();
    if (stage) fs.rmSync(stage, { recursive: true, force: true });
  });

  it('holds the build, the node files, the examples and the licence, and no tests, benches, sources or maps', function () {
    const files = tarFiles.map((f) => f.replace(/^package\//, ''));
    for (const [name, file] of Object.entries(pkg['node-red'].nodes)) {
      assert.ok(files.includes(file), `${file} packed`);
      if (!RUNTIME_ONLY.includes(name)) assert.ok(files.includes(file.replace(/\.js$/, '.html')), `${file}: its editor file packed`);
    }
    for (const f of ['index.html', 'viewer.js', 'worker.js', 'render.js', 'viewer.css']) assert.ok(files.includes(`viewer/${f}`), `viewer/${f} packed`);
    for (const f of ['package.json', 'README.md', 'LICENSE', pkg.main, 'dist/core/motion/kernel.wasm', 'examples/demo.json', 'resources/editor-rules.js', 'resources/editor-names.js']) assert.ok(files.includes(f), `${f} packed`);
    // Every example is in the package (Node-RED lists them under Import ▸ Examples).
    for (const f of fs.readdirSync(path.join(root, 'examples'))) assert.ok(files.includes(`examples/${f}`), `examples/${f} packed`);
    const stray = files.filter((f) => /^(test|bench|src|scripts|docs|\.ci)\//.test(f) || /\.map$/.test(f) || /\.test\.js$/.test(f) || /\.tsbuildinfo$/.test(f));
    assert.deepEqual(stray, []);
    for (const f of files.filter((x) => x.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(userDir, 'node_modules', pkg.name, f), 'utf8');
      assert.doesNotMatch(text, /sourceMappingURL/, `${f} names a map that is not shipped`);
    }
    const licence = fs.readFileSync(path.join(userDir, 'node_modules', pkg.name, 'LICENSE'), 'utf8');
    assert.equal(pkg.license, 'Apache-2.0');
    assert.match(licence, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(licence, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  });

  it("installs with the palette manager's npm command, saved in the user directory's package.json, with its dependencies and none of ours for development", function () {
    const saved = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.match(saved.dependencies[pkg.name], /^file:/, installLog);
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(fs.existsSync(path.join(userDir, 'node_modules', dep, 'package.json')), `${dep} installed`);
    for (const dev of ['typescript', 'wabt', 'mocha', 'node-red']) assert.equal(fs.existsSync(path.join(userDir, 'node_modules', dev)), false, `dev dependency ${dev} installed`);
    // npm 11 holds back install scripts the user has not approved, @ffmpeg-installer's `chmod u+x` among them:
    // the fallback FFmpeg must be runnable without it (its tarball carries the mode).
    if (process.platform === 'linux' && process.arch === 'x64') {
      fs.accessSync(path.join(userDir, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg'), fs.constants.X_OK);
    }
  });

  it('loads every node type in Node-RED and streams the demo flow from the installed copy', async function () {
    broker = await startBroker();
    const demo = JSON.parse(fs.readFileSync(path.join(userDir, 'node_modules', pkg.name, 'examples', 'demo.json'), 'utf8'));
    // As a user outside Home Assistant would: the "Home Assistant broker" node given this broker's address.
    nr = await startNodeRed(withBroker(demo, '127.0.0.1', String(broker.port)), { userDir });

    const list = await request(nr.port, 'GET', '/nodes', undefined, { Accept: 'application/json' });
    assert.equal(list.status, 200, list.body);
    const ours = JSON.parse(list.body).filter((set) => set.module === pkg.name);
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), Object.keys(pkg['node-red'].nodes).filter((n) => !RUNTIME_ONLY.includes(n)).sort(), nr.output());
    assert.deepEqual(ours.map((set) => set.name).sort(), Object.keys(pkg['node-red'].nodes).sort(), 'every set loaded, the viewer page with no node type');
    for (const set of ours) {
      assert.equal(set.err, undefined, `${set.id}: ${JSON.stringify(set.err)}`);
      assert.equal(set.enabled, true, set.id);
      assert.equal(set.version, pkg.version, set.id);
    }
    // What loaded is the installed copy: a plain folder in the user directory, not a link back to this checkout.
    assert.equal(fs.lstatSync(path.join(userDir, 'node_modules', pkg.name)).isSymbolicLink(), false);
    assert.doesNotMatch(nr.output(), /\[error\]|Waiting for missing types/, nr.output());

    client = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`);
    const seen = [];
    client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await new Promise((resolve, reject) => {
      client.once('connect', () => client.subscribe(['glimpser/#', 'homeassistant/#'], (err) => (err ? reject(err) : resolve())));
      client.once('error', reject);
    });

    const base = `http://127.0.0.1:${nr.port}`;
    // The viewer page and its worker come from the installed copy's viewer/ folder.
    for (const f of ['', 'worker.js']) assert.equal((await fetchBuffer(`${base}/glimpser/${f}`)).status, 200, `/glimpser/${f}`);
    // The editor's shared script, which Node-RED serves from the module's resources/ folder.
    const rules = await fetchBuffer(`${base}/resources/node-red-contrib-glimpser/editor-rules.js`);
    assert.equal(rules.status, 200, 'resources/editor-rules.js served to the editor');
    assert.match(rules.body.toString(), /window\.glimpserEditor = /);
    // Every icon of the top-level icons/ folder reaches the editor from the installed copy (the build copies them
    // to nodes/icons/, where Node-RED looks).
    for (const icon of fs.readdirSync(path.join(__dirname, '..', '..', 'icons'))) {
      const got = await fetchBuffer(`${base}/icons/${pkg.name}/${icon}`);
      assert.equal(got.status, 200, `icon ${icon}`);
      assert.match(got.body.toString(), /<svg/, `icon ${icon} is the SVG`);
    }
    const stream = await openStream(`${base}/glimpser/demo.mjpg`);
    try {
      // Placeholders come while FFmpeg starts; real frames follow on the same connection.
      const real = await waitFor(async () => {
        const [part] = await nextParts(stream, 1, 20000);
        return part.placeholder ? undefined : part;
      }, 30000, 0);
      assert.ok(real && isCompleteJpeg(real), 'a real JPEG frame from the demo camera');
      const more = await nextParts(stream, 5, 10000);
      assert.ok(more.every(isCompleteJpeg));
    } finally {
      stream.close();
    }
    const still = await fetchBuffer(`${base}/glimpser/demo.jpg`);
    assert.equal(still.status, 200);
    assert.equal(still.headers['content-type'], 'image/jpeg');
    assert.ok(isCompleteJpeg(still.body));

    // Motion runs on the WebAssembly kernel shipped in dist/: an ON proves it loaded from the tarball.
    await waitFor(() => seen.some((m) => m.topic === 'glimpser/demo/motion' && m.payload === 'ON'), 30000, 100);
    assert.ok(seen.some((m) => m.topic === 'glimpser/demo/motion' && m.payload === 'ON'), JSON.stringify(seen.slice(-10)));
    assert.ok(seen.some((m) => /^homeassistant\/binary_sensor\/.+\/config$/.test(m.topic)), 'discovery published');

    const ffmpegs = childrenOf(nr.child.pid);
    assert.equal(ffmpegs.length, 1, 'one FFmpeg for the demo camera');
    nr.child.kill('SIGTERM');
    const { code } = await nr.exited;
    assert.equal(code, 0, nr.output().slice(-2000));
    for (const p of ffmpegs) assert.equal(isAlive(p), false, 'FFmpeg stopped with Node-RED');
  });
});
