'use strict';
// Adaptive viewer rates end to end: ffmpeg-source (a real FFmpeg) -> mjpeg-out in a real Node-RED runtime, read
// by real HTTP clients. What the viewers ask for becomes the stream's outputs: a thumbnail output while a ?width
// viewer exists, a thinner JPEG rate while every viewer is capped or motion-aware with nothing moving.
const assert = require('node:assert/strict');
const sharp = require('sharp');
const helper = require('../helpers/node-red').testHelper();
const { useHttpRuntime } = require('../helpers/red-http');
const poolNode = require('../../nodes/process-pool.js');
const sourceNode = require('../../nodes/ffmpeg-source.js');
const mjpegOut = require('../../nodes/mjpeg-out.js');
const motionNode = require('../../nodes/motion-detect.js');
const { openStream, nextParts } = require('../helpers/mjpeg-client');
const { delay, until } = require('../helpers/procs');

function flow() {
  return [
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 1, backoffBase: 0.2, backoffCap: 1 },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'yard', pool: 'pool', source: 'testsrc2=size=640x480:rate=10', fps: 10, quality: 8, lowFps: 1, startMode: 'demand', wires: [['out']] },
    { id: 'out', type: 'glimpser-mjpeg-out', name: 'yard', path: '/glimpser/yard.mjpg', stillPath: '', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [] },
  ];
}

describe('adaptive viewer rates (real FFmpeg, real Node-RED, real clients)', function () {
  this.timeout(60000);
  let base;
  const rt = useHttpRuntime(helper);

  async function load() {
    await rt.load([poolNode, sourceNode, mjpegOut], flow());
    base = `${rt.base}/glimpser/yard.mjpg`;
    return helper.getNode('pool').pool.stream('yard');
  }
  // The stream's running process (its thumbnail widths are not in the snapshot).
  const mainCapture = (stream) => stream['slots'].main.active?.capture;

  /** Real (not placeholder) parts, skipping whatever came before. */
  async function realParts(c, n) {
    const out = [];
    while (out.length < n) for (const p of await nextParts(c, 1)) if (!p.placeholder) out.push(p);
    return out;
  }

  it('?width=160: the same FFmpeg makes a 160-wide thumbnail for that viewer only while it watches', async function () {
    const stream = await load();
    const small = await openStream(`${base}?width=160`);
    const full = await openStream(base);
    try {
      await until(() => mainCapture(stream)?.thumbs.includes(160), 'a thumbnail output', 20000);
      // Parts made by the new process: the thumbnail to one viewer, the full picture to the other.
      await until(async () => (await sharp((await realParts(small, 1))[0]).metadata()).width === 160, '160-wide parts', 20000);
      const [f] = await realParts(full, 1);
      assert.equal((await sharp(f).metadata()).width, 640);
      const pids = stream.snapshot().pids;
      assert.equal(pids.length, 1, 'one FFmpeg for both sizes');
    } finally {
      small.close();
    }
    // The idle grace (1 s), then a process without the thumbnail takes over.
    await until(() => mainCapture(stream) && mainCapture(stream).thumbs.length === 0, 'thumbnail output dropped', 20000);
    full.close();
  });

  it('viewers capped at 2 fps: the stream encodes every 5th frame; an uncapped viewer brings every frame back at once', async function () {
    const stream = await load();
    const capped = await openStream(`${base}?fps=2`);
    try {
      await realParts(capped, 1);
      await until(() => stream.snapshot().outputs.jpegEvery === 5, 'every 5th frame encoded', 20000);
      const uncapped = await openStream(base);
      try {
        await until(() => stream.snapshot().outputs.jpegEvery === 1, 'every frame again', 20000);
        await realParts(uncapped, 3);
        const t0 = Date.now();
        await realParts(uncapped, 20);
        const fps = 20 / ((Date.now() - t0) / 1000);
        assert.ok(fps > 7, `${fps.toFixed(1)} fps to the uncapped viewer`);
      } finally {
        uncapped.close();
      }
    } finally {
      capped.close();
    }
  });

  it('motion-aware viewers (?idlefps=2): a thin stream while the motion verdict is "none", full rate the moment it is "motion"', async function () {
    const stream = await load();
    // What motion-detect tells the stream (src/nodes/motion-detect.ts): here the verdicts come from the test.
    stream.reportMotion('motion-test', false);
    const c = await openStream(`${base}?idlefps=2`);
    try {
      await realParts(c, 1);
      await until(() => stream.snapshot().outputs.jpegEvery === 5, 'every 5th frame while still', 20000);
      await delay(500);
      c.queue.splice(0);
      await delay(3000);
      const still = c.queue.splice(0).filter((p) => !p.placeholder).length;
      assert.ok(still <= 8, `${still} parts in 3 s while still (2 fps)`);
      const motionAt = Date.now();
      stream.reportMotion('motion-test', true);
      await until(() => stream.snapshot().outputs.jpegEvery === 1, 'every frame on motion', 10000);
      const switched = Date.now() - motionAt;
      c.queue.splice(0);
      await delay(2000);
      const moving = c.queue.splice(0).filter((p) => !p.placeholder).length;
      assert.ok(moving >= 15, `${moving} parts in 2 s of motion`);
      assert.ok(switched < 5000, `full rate ${switched} ms after motion`);
    } finally {
      c.close();
      stream.unuse('motion-test', 'now');
    }
  });
  it('with a real motion-detect wired to the source: still scene, motion-aware viewers thin the stream; a box appears, full rate', async function () {
    const f = flow();
    // A flat scene; a box shows for 4 s of every 8 (by each process's own clock, so every restart sees it too).
    const scene = "color=c=0x808080:s=320x240:r=10,drawbox=x=100:y=80:w=80:h=80:color=black:t=fill:enable='gte(mod(t,8),4)'";
    f[1] = { ...f[1], source: scene, startMode: 'always', wires: [['out', 'md']] };
    f.push({ id: 'md', type: 'glimpser-motion-detect', quietSeconds: 1, startFrames: 3, discoveryDelay: 0, wires: [] });
    await rt.load([poolNode, sourceNode, mjpegOut, motionNode], f);
    base = `${rt.base}/glimpser/yard.mjpg`;
    const stream = helper.getNode('pool').pool.stream('yard');
    const c = await openStream(`${base}?idlefps=2`);
    try {
      await realParts(c, 1);
      // What the detector said, as the stream's outputs followed it: still (every 5th frame), then motion (every frame).
      const seen = [];
      const end = Date.now() + 30000;
      while (Date.now() < end && !(seen.includes('still:5') && seen.at(-1) === 'motion:1')) {
        const o = `${stream.motion ? 'motion' : 'still'}:${stream.snapshot().outputs.jpegEvery}`;
        if (seen.at(-1) !== o) seen.push(o);
        await delay(50);
      }
      assert.ok(seen.includes('still:5'), `a thin stream while nothing moved: ${seen.join(' ')}`);
      assert.equal(seen.at(-1), 'motion:1', `every frame once the box moved in: ${seen.join(' ')}`);
    } finally {
      c.close();
    }
  });
});
