'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
// Statuses, warnings and errors in the English of nodes/locales, as users read them.
const [poolNode, sourceNode] = withCatalogs([require('../../nodes/process-pool.js'), require('../../nodes/ffmpeg-source.js')]);
const { isAlive, waitFor } = require('../helpers/procs');

const FAKE = (mode) => path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', `ffmpeg-${mode}`);

function flow(sourceProps = {}, poolProps = {}) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0, ...poolProps },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, startMode: 'always', wires: [['out']], ...sourceProps },
    { id: 'out', type: 'helper' },
  ];
}

function collect(node, n, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const msgs = [];
    const t = setTimeout(() => reject(new Error(`only ${msgs.length} of ${n} messages`)), timeoutMs);
    node.on('input', (msg) => {
      msgs.push(msg);
      if (msgs.length === n) {
        clearTimeout(t);
        resolve(msgs);
      }
    });
  });
}

describe('ffmpeg-source node (real Node-RED runtime, real FFmpeg)', function () {
  this.timeout(30000);
  useRuntime(helper);

  it('emits one message per frame from one persistent process', async function () {
    await helper.load([poolNode, sourceNode], flow());
    const out = helper.getNode('out');
    const msgs = await collect(out, 8);
    for (const [i, msg] of msgs.entries()) {
      assert.ok(Buffer.isBuffer(msg.payload));
      assert.equal(msg.payload[0], 0xff);
      assert.equal(msg.payload[1], 0xd8);
      assert.equal(msg.topic, 'front');
      assert.equal(msg.frame.stream, 'front');
      assert.equal(msg.frame.size, msg.payload.length);
      assert.equal(msg.frame.jpeg, true, 'a flow consumes the frames: every one is a JPEG');
      assert.deepEqual(msg.frame.gray, []);
      if (i > 0) assert.equal(msg.frame.seq, msgs[i - 1].frame.seq + 1);
    }
    const pool = helper.getNode('pool').pool;
    assert.equal(pool.captures().length, 1);
    const pid = pool.captures()[0].stats().pid;
    assert.ok(isAlive(pid));
    await helper.unload();
    assert.equal(isAlive(pid), false, 'the pool close waited for FFmpeg to exit');
  });

  it('shares one FFmpeg between two source nodes with the same camera', async function () {
    const f = flow();
    f.push({ ...f[1], id: 'src2', name: 'front-copy', wires: [['out2']] }, { id: 'out2', type: 'helper' });
    await helper.load([poolNode, sourceNode], f);
    await Promise.all([collect(helper.getNode('out'), 2), collect(helper.getNode('out2'), 2)]);
    assert.equal(helper.getNode('pool').pool.captures().length, 1);
  });

  it('on demand: no process until a snapshot is asked, which starts it and replies with a frame', async function () {
    await helper.load([poolNode, sourceNode], flow({ startMode: 'demand' }));
    const pool = helper.getNode('pool').pool;
    assert.equal(pool.captures().length, 0, 'idle until demanded');
    const src = helper.getNode('src');
    const out = helper.getNode('out');
    const got = new Promise((resolve) => {
      out.on('input', (msg) => {
        if (msg.snapshot) resolve(msg);
      });
    });
    src.receive({ payload: 'snap', keep: 'me' });
    const msg = await got;
    assert.equal(msg.keep, 'me', 'the input message is reused');
    assert.equal(msg.payload[0], 0xff);
    assert.equal(msg.topic, 'front');
    await waitFor(() => pool.captures().length === 0, 5000);
    assert.equal(pool.captures().length, 0, 'stopped again after the snapshot (idle grace 0)');
  });

  it('defines a named stream in its pool that users start by demand, and leaves it on close', async function () {
    await helper.load([poolNode, sourceNode], flow({ startMode: 'demand' }));
    const pool = helper.getNode('pool').pool;
    const stream = pool.stream('front');
    assert.equal(stream.state, 'idle');
    assert.equal(stream.definition.capture.source, 'testsrc2=size=320x240:rate=10');
    const states = [];
    stream.on('state', (c) => states.push(c.state));
    stream.use('viewer-1', { run: true, jpeg: 'full' });
    stream.use('viewer-1', { run: true, jpeg: 'full' });
    await waitFor(() => stream.latest(), 10000);
    assert.ok(stream.latest().data.length > 0);
    assert.ok(states.includes('healthy'), states.join(','));
    const pid = stream.snapshot().pids[0];
    stream.unuse('viewer-1', 'grace');
    await waitFor(() => stream.state === 'idle', 5000);
    assert.equal(stream.state, 'idle');
    await waitFor(() => !isAlive(pid), 5000);
    assert.equal(isAlive(pid), false, 'the last user gone (idle grace 0): the process stopped');
    await helper.unload();
    assert.equal(stream.definition, undefined, 'the removed source no longer defines the stream');
  });

  it('warns about a password in the URL, in its user-info or its query string, without echoing it', async function () {
    const inQuery = ['password', 'passwd', 'pass', 'pwd', 'token', 'access_token', 'auth', 'key', 'apikey', 'api_key', 'secret', 'PWD'];
    const cases = [['rtsp://admin:Pa55word@192.0.2.1/live', /password/]].concat(
      inQuery.map((p) => [`http://192.0.2.1/video.cgi?user=admin&${p}=Pa55word&res=hd`, new RegExp(`"${p}="`)]),
    );
    for (const [source, names] of cases) {
      await helper.load([poolNode, sourceNode], flow({ source, startMode: 'demand' }));
      const src = helper.getNode('src');
      await waitFor(() => src.warn.called, 2000);
      const warning = String(src.warn.firstCall.args[0]);
      assert.match(warning, names, source);
      assert.ok(!warning.includes('Pa55word'), warning);
      await helper.unload();
    }
    // Names that only contain a secret's name are not secrets.
    await helper.load([poolNode, sourceNode], flow({ source: 'http://192.0.2.1/video.cgi?keyframe=1&passes=2&author=me', startMode: 'demand' }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(helper.getNode('src').warn.called, false);
  });

  it('keeps the password in credentials: never in status, logs or errors', async function () {
    const secret = 'S3cr3t-pass';
    await helper.load([poolNode, sourceNode], flow({ source: 'rtsp://192.0.2.1:554/live' }, { ffmpegPath: FAKE('auth-error') }), {
      src: { username: 'admin', password: secret },
    });
    const src = helper.getNode('src');
    const statuses = [];
    src.on('call:status', (call) => statuses.push(call.args[0]));
    await waitFor(() => statuses.some((s) => s.fill === 'red'), 10000);
    const failed = statuses.find((s) => s.fill === 'red');
    assert.match(failed.text, /failed: authentication failed \(401\)/);
    const logs = helper.log().args.map((a) => JSON.stringify(a[0]));
    assert.ok(logs.some((l) => l.includes('401')), 'the failure was logged');
    for (const text of [...statuses.map((s) => s.text || ''), ...logs]) assert.ok(!text.includes(secret), `leaked: ${text}`);
  });

  it('rejects an unknown URL scheme with a clear status and keeps the flow running', async function () {
    await helper.load([poolNode, sourceNode], flow({ source: 'ftp://camera/stream' }));
    const src = helper.getNode('src');
    const status = src.status.lastCall?.args[0] ?? (await new Promise((r) => src.on('call:status', (c) => r(c.args[0]))));
    assert.equal(status.fill, 'red');
    assert.match(status.text, /ftp/i);
    assert.equal(helper.getNode('pool').pool.captures().length, 0, 'nothing spawned');
    await new Promise((resolve) => {
      src.receive({ payload: 1 });
      src.on('call:error', () => resolve());
    });
  });

  it('reports a missing FFmpeg as a red status and an error, and Node-RED keeps running', async function () {
    await helper.load([poolNode, sourceNode], flow({}, { ffmpegPath: '/nonexistent/bin/ffmpeg' }));
    const src = helper.getNode('src');
    await waitFor(() => src.status.args.some((a) => a[0].fill === 'red'), 5000);
    const red = src.status.args.map((a) => a[0]).find((s) => s.fill === 'red');
    assert.match(red.text, /failed: FFmpeg not found/);
    const logged = helper.log().args.map((a) => JSON.stringify(a[0]));
    assert.ok(logged.some((l) => /not found or not executable/.test(l)), 'the pool logged why');
  });

  it('rejects an empty source', async function () {
    await helper.load([poolNode, sourceNode], flow({ source: '' }));
    const src = helper.getNode('src');
    assert.equal(src.status.lastCall.args[0].fill, 'red');
  });

  it('works without a process-pool config node (shared default pool)', async function () {
    const f = flow();
    f[1].pool = '';
    f.shift();
    await helper.load([poolNode, sourceNode], f);
    const msgs = await collect(helper.getNode('out'), 2);
    assert.equal(msgs[0].payload[0], 0xff);
  });

  it('an always-on camera nobody watches says it is making stills, not "healthy · 0.5 fps"', async function () {
    const f = flow();
    f[1].wires = [];
    await helper.load([poolNode, sourceNode], f);
    const src = helper.getNode('src');
    await waitFor(() => src.status.args.some((a) => /stills/.test(a[0].text ?? '')), 10000);
    const status = src.status.args.map((a) => a[0]).find((s) => /stills/.test(s.text ?? ''));
    assert.deepEqual(status, { fill: 'green', shape: 'dot', text: 'idle · stills every 2 s' });
  });

  it('restarts a source that drops every few frames and keeps delivering', async function () {
    await helper.load([poolNode, sourceNode], flow({ source: 'testsrc' }, { ffmpegPath: FAKE('die-after-frames'), backoffBase: 0.1, backoffCap: 0.2 }));
    const msgs = await collect(helper.getNode('out'), 15);
    assert.equal(msgs.length, 15, 'frames from several process lifetimes');
    assert.ok(helper.getNode('pool').pool.stream('front').snapshot().restarts >= 2);
  });
});
