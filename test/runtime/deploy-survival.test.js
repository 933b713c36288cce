'use strict';
// A real node-red process, full deploys of an unchanged flow (what the Deploy button does by default): the camera's
// FFmpeg keeps running, the open MJPEG connections keep receiving frames, an ongoing motion event is neither ended
// nor announced again. Then a changed source: its process is replaced, the viewers stay connected.
const assert = require('node:assert/strict');
const mqtt = require('mqtt');
const { startNodeRed } = require('../helpers/node-red-process');
const { startAedes } = require('../helpers/broker');
const { openStream } = require('../helpers/mjpeg-client');
const { childrenOf, delay, until } = require('../helpers/procs');

// A box that never stops moving: the motion event stays on.
// (It appears after 3 s: the detector learns the empty scene first.)
const CAMERA = "smptehdbars=size=640x360:rate=10,drawbox=x='mod(t*200,520)':y=120:w=120:h=120:color=white:t=fill:enable='gte(t,3)'";

function flows(broker, source = CAMERA) {
  return [
    { id: 'tab', type: 'tab', label: 'cams' },
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
    { id: 'src', z: 'tab', type: 'glimpser-ffmpeg-source', name: 'yard', pool: 'pool', source, fps: 10, quality: 5, startMode: 'always', wires: [['out', 'md']] },
    { id: 'out', z: 'tab', type: 'glimpser-mjpeg-out', name: 'yard', path: '/glimpser/yard.mjpg', stillPath: '/glimpser/yard.jpg', maxViewers: 100, maxPerAddress: 100, wires: [] },
    { id: 'md', z: 'tab', type: 'glimpser-motion-detect', quietSeconds: 5, startFrames: 3, discoveryDelay: 0.5, wires: [['mo']] },
    { id: 'mo', z: 'tab', type: 'mqtt out', broker: 'b1', topic: '', qos: '', retain: '', wires: [] },
    { id: 'b1', type: 'mqtt-broker', broker: broker.host, port: String(broker.port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
  ];
}

describe('full deploys leave unchanged streams alone (a real node-red process)', function () {
  this.timeout(120000);
  let nr;
  let broker;
  let client;
  const viewers = [];
  afterEach(async function () {
    for (const v of viewers.splice(0)) v.close();
    await client?.endAsync(true);
    await nr?.stop();
    await broker?.close();
  });

  it('5 full deploys: 10 viewers stay connected with no gap over 1 s, same FFmpeg PID, the motion event goes on, no MQTT message', async function () {
    broker = await startAedes();
    client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const msgs = [];
    client.on('message', (topic, payload) => msgs.push({ topic, payload: String(payload).slice(0, 60), at: Date.now() }));
    await client.subscribeAsync(['glimpser/#', 'homeassistant/#'], { qos: 1 });

    nr = await startNodeRed(flows(broker));
    const base = `http://127.0.0.1:${nr.port}`;
    await until(() => msgs.some((m) => m.topic === 'glimpser/yard/motion' && m.payload === 'ON'), 'motion ON', 30000);

    const gaps = [];
    const closed = [];
    for (let i = 0; i < 10; i++) {
      const v = await openStream(`${base}/glimpser/yard.mjpg`);
      let last = Date.now();
      let max = 0;
      v.parser.on('part', () => {
        const now = Date.now();
        max = Math.max(max, now - last);
        last = now;
        gaps[i] = max;
      });
      v.res.on('close', () => closed.push(i));
      viewers.push(v);
    }
    await until(() => viewers.every((v) => v.parser.parts >= 3), 'frames at every viewer');
    // Viewers asked for every frame as JPEG: that process has taken over from the motion-only one by now.
    await until(() => childrenOf(nr.child.pid).length === 1, 'one FFmpeg');
    const [pid] = childrenOf(nr.child.pid);
    gaps.fill(0);
    await delay(1000);
    const before = msgs.length;

    for (let i = 0; i < 5; i++) {
      const res = await nr.deploy(flows(broker));
      assert.ok(res.status === 200 || res.status === 204, `deploy ${i + 1}: ${res.status} ${res.body}`);
      await delay(1500);
    }
    const after = msgs.slice(before);
    assert.deepEqual(closed, [], 'no viewer was disconnected');
    for (const [i, g] of gaps.entries()) assert.ok(g <= 1000, `viewer ${i}: longest gap ${g} ms`);
    assert.deepEqual(childrenOf(nr.child.pid), [pid], 'the same FFmpeg runs on');
    assert.deepEqual(after.map((m) => `${m.topic} ${m.payload}`), [], 'no MQTT message: the event goes on, nothing re-announced');

    // A changed source gets a new process; the viewers stay connected through the change.
    const changed = flows(broker, CAMERA.replace('640x360', '480x270'));
    await nr.deploy(changed);
    await until(() => childrenOf(nr.child.pid).length === 1 && childrenOf(nr.child.pid)[0] !== pid, 'a new FFmpeg for the new settings', 20000);
    await until(() => viewers.every((v) => v.parser.parts > 0), 'frames');
    const counts = viewers.map((v) => v.parser.parts);
    await until(() => viewers.every((v, i) => v.parser.parts > counts[i] + 5), 'frames from the new process');
    assert.deepEqual(closed, [], 'still connected');
    console.log(`      (longest gap at any viewer over 5 deploys: ${Math.max(...gaps)} ms)`);
  });
});
