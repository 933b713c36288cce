'use strict';
// Failures from outside, in a real Node-RED runtime: an FFmpeg that freezes (SIGSTOP), an MQTT broker that goes away
// and comes back empty, two motion nodes of different sizes on one camera, a camera read without FFmpeg.
const assert = require('node:assert/strict');
const mqtt = require('mqtt');
const helper = require('../helpers/node-red').testHelper();
const { requireFromNodeRed } = require('../helpers/node-red');
const poolNode = require('../../nodes/process-pool.js');
const sourceNode = require('../../nodes/ffmpeg-source.js');
const mjpegOut = require('../../nodes/mjpeg-out.js');
const motionNode = require('../../nodes/motion-detect.js');
const mqttNode = requireFromNodeRed('@node-red/nodes/core/network/10-mqtt.js');
const { startAedes } = require('../helpers/broker');
const { startCamera, serveFrames } = require('../helpers/mjpeg-camera');
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { openStream, nextParts } = require('../helpers/mjpeg-client');
const { isAlive, until, delay } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');
const { lastStatus } = require('../helpers/node-status');

const MOVING = "smptehdbars=size=320x240:rate=10,drawbox=x='mod(t*120,240)':y=80:w=60:h=60:color=white:t=fill:enable='gte(t,2)'";

describe('reliability (real FFmpeg, real Node-RED runtime)', function () {
  this.timeout(90000);
  let base;
  const cleanups = [];
  const rt = useHttpRuntime(helper);
  // After the runtime's own afterEach: brokers and cameras outlive the flows that used them.
  afterEach(async function () {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function load(nodes, f, settings) {
    await rt.load(nodes, f, { settings });
    base = rt.base;
  }

  it('an FFmpeg frozen with SIGSTOP is caught within 5 s at 10 fps and the viewer gets real frames again', async function () {
    await load([poolNode, sourceNode, mjpegOut], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: 'cam', pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, startMode: 'always', wires: [['out']] },
      { id: 'out', type: 'glimpser-mjpeg-out', path: '/glimpser/cam.mjpg', wires: [] },
    ]);
    const stream = helper.getNode('pool').pool.stream('cam');
    const viewer = await openStream(`${base}/glimpser/cam.mjpg`);
    // Frames delivered are what earn a restart at once (capture/recovery.ts), not a run of some length: the process
    // to freeze is the one serving the viewer (every frame), after the viewer's arrival switched to it.
    await until(() => stream.state === 'healthy' && stream.snapshot().pids.length === 1 && stream.snapshot().outputs.jpegEvery === 1, 'healthy at full rate');
    const [pid] = stream.snapshot().pids;
    const states = [];
    stream.on('state', (c) => states.push({ state: c.state, at: Date.now() }));
    const t0 = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      await until(() => states.some((s) => s.state === 'recovering'), 'recovering', 15000);
      const caught = states.find((s) => s.state === 'recovering').at - t0;
      assert.ok(caught <= 6000, `stall caught after ${caught} ms (limit 5 s, checked as it happens)`);
      viewer.queue.length = 0;
      await until(() => viewer.queue.some((b) => !b.placeholder) && stream.snapshot().pids[0] !== pid, 'real frames from a new process', 15000);
      console.log(`      (stall caught after ${caught} ms; real frames again after ${Date.now() - t0} ms)`);
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      viewer.close();
    }
  });

  it('after the broker comes back empty, the true motion state is there within seconds, without Home Assistant restarting', async function () {
    let broker = await startAedes();
    const port = broker.port;
    cleanups.push(() => broker.close());
    await load([poolNode, sourceNode, motionNode, mqttNode], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: 'porch', pool: 'pool', source: MOVING, fps: 10, quality: 5, startMode: 'always', wires: [['md']] },
      { id: 'md', type: 'glimpser-motion-detect', quietSeconds: 30, startFrames: 3, discoveryDelay: 0.5, wires: [['mo']] },
      { id: 'mo', type: 'mqtt out', broker: 'b1', topic: '', qos: '', retain: '' },
      // The bridge's own status topic: birth on every (re)connect, close and last will when Node-RED goes.
      { id: 'mi', type: 'mqtt in', broker: 'b1', topic: 'glimpser/status', qos: '1', datatype: 'utf8', wires: [['md']] },
      { id: 'b1', type: 'mqtt-broker', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '5', cleansession: true,
        birthTopic: 'glimpser/status', birthQos: '1', birthRetain: 'true', birthPayload: 'online',
        closeTopic: 'glimpser/status', closeQos: '1', closeRetain: 'true', closePayload: 'offline',
        willTopic: 'glimpser/status', willQos: '1', willRetain: 'true', willPayload: 'offline' },
    ], { mqttReconnectTime: 500 });
    const retained = async () => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      const got = {};
      c.on('message', (t, p, packet) => {
        if (packet.retain) got[t] = String(p).slice(0, 40);
      });
      await c.subscribeAsync(['glimpser/#', 'homeassistant/#'], { qos: 1 });
      await delay(300);
      await c.endAsync(true);
      return got;
    };
    await until(async () => (await retained())['glimpser/porch/motion'] === 'ON', 'motion ON retained', 30000);
    // The broker dies and comes back with nothing retained (aedes keeps it in memory only).
    await broker.close();
    // Back only once Node-RED has seen it gone (as its user would: the MQTT node's status), so it reconnects.
    await until(() => lastStatus(helper.getNode('mo'))?.text === 'node-red:common.status.disconnected', 'Node-RED sees the broker gone', 10000);
    broker = await startAedes(port);
    const back = Date.now();
    await until(async () => {
      const r = await retained();
      return r['glimpser/porch/motion'] === 'ON' && r['glimpser/porch/availability'] === 'online' && Object.keys(r).some((t) => t.startsWith('homeassistant/binary_sensor/'));
    }, 'state, availability and discovery retained again', 20000);
    console.log(`      (true state retained again ${Date.now() - back} ms after the broker came back)`);
  });

  it('two motion nodes on one camera each analyse frames of their own size', async function () {
    await load([poolNode, sourceNode, motionNode], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: 'yard', pool: 'pool', source: MOVING, fps: 10, quality: 5, startMode: 'always', wires: [['small', 'large']] },
      { id: 'small', type: 'glimpser-motion-detect', analysisWidth: 160, analysisHeight: 120, startFrames: 3, discoveryDelay: 0, wires: [['hs']] },
      { id: 'large', type: 'glimpser-motion-detect', analysisWidth: 320, analysisHeight: 240, startFrames: 3, discoveryDelay: 0, wires: [['hl']] },
      { id: 'hs', type: 'helper' },
      { id: 'hl', type: 'helper' },
    ]);
    const on = (id) => new Promise((resolve) => helper.getNode(id).on('input', (m) => {
      if (m.kind === 'motion' && m.payload === 'ON') resolve(m);
    }));
    const [s, l] = await Promise.all([on('hs'), on('hl')]);
    // The same 60x60 box: 1/16 of the frame area at either size, counted in each node's own pixels.
    const ratio = l.changedArea / s.changedArea;
    assert.ok(ratio > 2.5 && ratio < 6, `320x240 node counts ${l.changedArea} px, 160x120 node ${s.changedArea} px (x${ratio.toFixed(1)})`);
    assert.deepEqual(helper.getNode('pool').pool.stream('yard').snapshot().outputs.gray, ['160x120', '320x240']);
  });

  it('an MJPEG camera is read without FFmpeg: frames pass through byte for byte, one connection for two streams', async function () {
    const frames = await recordFrames({ count: 20, size: '320x240' });
    const cam = await startCamera(serveFrames(frames, { ms: 100 }));
    cleanups.push(() => cam.close());
    const url = `${cam.url}/video.mjpg`;
    await load([poolNode, sourceNode, mjpegOut], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10, ffmpegPath: '/nonexistent/ffmpeg' },
      { id: 'srca', type: 'glimpser-ffmpeg-source', name: 'cama', pool: 'pool', source: url, fps: 10, quality: 5, startMode: 'always', wires: [['outa']] },
      { id: 'srcb', type: 'glimpser-ffmpeg-source', name: 'camb', pool: 'pool', source: url, fps: 10, quality: 5, startMode: 'always', wires: [['outb']] },
      { id: 'outa', type: 'glimpser-mjpeg-out', path: '/a.mjpg', wires: [] },
      { id: 'outb', type: 'glimpser-mjpeg-out', path: '/b.mjpg', wires: [] },
    ]);
    const va = await openStream(`${base}/a.mjpg`);
    const vb = await openStream(`${base}/b.mjpg`);
    const got = await nextParts(va, 8);
    await nextParts(vb, 3);
    const real = got.filter((b) => !b.placeholder);
    assert.ok(real.length >= 3);
    for (const b of real) assert.ok(frames.some((f) => f.equals(b)), 'a frame exactly as the camera sent it');
    assert.equal(cam.connections, 1, 'one connection to the camera for both streams');
    const snap = helper.getNode('pool').pool.stream('cama').snapshot();
    assert.equal(snap.acceleration, 'pass-through (no decoding)');
    assert.equal(snap.state, 'healthy', 'no FFmpeg needed at all (its path does not even exist)');
    va.close();
    vb.close();
  });

  it('motion on a pass-through camera: gray decoded from the camera\'s own JPEGs, ON with the box\'s area, no FFmpeg', async function () {
    // 3 s of still bars, then a 60x60 box crossing them; the camera loops the clip.
    const frames = await recordFrames({ count: 60, size: '320x240', source: 'smptehdbars',
      filter: "drawbox=x='mod((t-3)*120,240)':y=80:w=60:h=60:color=white:t=fill:enable='gte(t,3)'" });
    const cam = await startCamera(serveFrames(frames, { ms: 100 }));
    cleanups.push(() => cam.close());
    await load([poolNode, sourceNode, motionNode], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10, ffmpegPath: '/nonexistent/ffmpeg' },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: 'gate', pool: 'pool', source: `${cam.url}/video.mjpg`, fps: 10, quality: 5, startMode: 'always', wires: [['motion']] },
      { id: 'motion', type: 'glimpser-motion-detect', analysisWidth: 160, analysisHeight: 120, startFrames: 3, discoveryDelay: 0, wires: [['events']] },
      { id: 'events', type: 'helper' },
    ]);
    const on = await new Promise((resolve) => helper.getNode('events').on('input', (m) => {
      if (m.kind === 'motion' && m.payload === 'ON') resolve(m);
    }));
    // The box is 1/16 of the frame: 1200 px at 160x120 (its edges blur a little either way).
    assert.ok(on.changedArea > 400 && on.changedArea < 3000, `changed area ${on.changedArea} px at 160x120`);
    const snap = helper.getNode('pool').pool.stream('gate').snapshot();
    assert.equal(snap.acceleration, 'pass-through (no decoding)');
    assert.deepEqual(snap.outputs.gray, ['160x120']);
    assert.equal(snap.pids.length, 0, 'no process at all');
  });
});
