'use strict';
// The stream owner (src/core/stream/stream.ts) with a real FFmpeg: demand turns into outputs, outputs switch without a gap,
// gray frames pair with their JPEG by frame index, handover across a deploy, hardware fallback.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sharp = require('sharp');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { hardwarePlan } = require('../../dist/core/hwaccel/methods');
const { HwaccelFallback } = require('../../dist/core/hwaccel/fallback');
const { isAlive, until, waitFor, delay } = require('../helpers/procs');
const { liveCamera } = require('../helpers/live-camera');
const { execFileSync } = require('node:child_process');

// Every frame's luma is 8 x its index (mod 256): a frame's gray and JPEG say which frame they are.
const COUNTER = 'testsrc:color=c=black:s=160x120:r=10,geq=lum=mod(N*8\\,256):cb=128:cr=128';
const FAKE = (mode) => path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', `ffmpeg-${mode}`);

function mean(buf) {
  let s = 0;
  for (let i = 0; i < buf.length; i++) s += buf[i];
  return s / buf.length;
}

/** Collects the stream's frames until `done(frames)` is true. */
function collect(stream, done, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const frames = [];
    const t = setTimeout(() => {
      stream.off('frame', on);
      reject(new Error(`only ${frames.length} frames`));
    }, timeoutMs);
    const on = (f) => {
      frames.push({ ...f, pid: stream.snapshot().pids[0] });
      if (done(frames)) {
        clearTimeout(t);
        stream.off('frame', on);
        resolve(frames);
      }
    };
    stream.on('frame', on);
  });
}

describe('Stream: one owner per stream (real FFmpeg)', function () {
  this.timeout(40000);
  let pool;
  afterEach(async function () {
    await pool?.close();
    pool = undefined;
  });

  it('motion alone: gray every frame, JPEG at the low rate; a gray frame and the JPEG beside it are the same frame', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    // A still every 2 s: the thinned JPEG output must not hold its frames back (the encoder's frame threads would).
    stream.define('src', { capture: { source: COUNTER, fps: 10, quality: 3 }, lowFps: 0.5 });
    stream.use('motion', { gray: { width: 80, height: 60 } });
    const frames = await collect(stream, (fs_) => fs_.filter((f) => f.jpeg && f.pid === fs_.at(-1).pid).length >= 3);
    assert.equal(stream.snapshot().outputs.jpegEvery, 20);
    const byProcess = frames.filter((f) => f.pid === frames.at(-1).pid);
    for (const f of byProcess) assert.ok(f.gray['80x60'], 'every frame carries its gray');
    const withJpeg = byProcess.filter((f) => f.jpeg);
    assert.ok(withJpeg.length >= 3 && withJpeg.length <= Math.ceil(byProcess.length / 20) + 1, `${withJpeg.length} JPEGs in ${byProcess.length} frames`);
    assert.equal(pool.captures()[0].stats().unpaired, 0, 'every JPEG came in time for its gray twin');
    for (const f of withJpeg) {
      const { data } = await sharp(f.jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
      // The gray output keeps the source's limited-range luma; the JPEG (yuvj420p) is full range.
      const g = Math.max(0, (mean(f.gray['80x60'].data) - 16) * (255 / 219));
      assert.ok(Math.abs(mean(data) - g) < 4, `JPEG ${mean(data).toFixed(1)} vs gray ${g.toFixed(1)}: the same frame`);
    }
    // Consecutive gray frames are consecutive video frames: nothing lost or doubled by the pairing.
    for (let i = 1; i < byProcess.length; i++) {
      const step = (mean(byProcess[i].gray['80x60'].data) - mean(byProcess[i - 1].gray['80x60'].data) + 256) % 256;
      assert.ok(Math.abs(step - 8) < 3, `step ${step.toFixed(1)} between frames ${i - 1} and ${i}`);
    }
  });

  it('a viewer turns every frame into JPEG: the new process runs beside the old one until its first frame', async function () {
    pool = new ProcessPool({ idleGraceMs: 60000 });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: COUNTER, fps: 10, quality: 5 }, lowFps: 1 });
    stream.use('motion', { gray: { width: 80, height: 60 } });
    await collect(stream, (f) => f.length >= 3);
    const oldPid = stream.snapshot().pids[0];
    const seen = [];
    // Whether the old FFmpeg was still there when the new one delivered its first frame. Node reaps a child only
    // between events, so an old process still running at that frame answers here; one stopped before (break before
    // make: a gap while the new one starts) is gone by then.
    let oldAliveAtFirstNew;
    const on = (f) => {
      const pid = stream.snapshot().pids[0];
      if (pid !== oldPid && oldAliveAtFirstNew === undefined) oldAliveAtFirstNew = isAlive(oldPid);
      seen.push({ seq: f.seq, pid, jpeg: !!f.jpeg, gray: !!f.gray['80x60'] });
    };
    stream.on('frame', on);
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => seen.filter((s) => s.pid !== oldPid && s.jpeg).length >= 5, 'full-rate JPEG from the new process');
    stream.off('frame', on);
    // The new process's first frame can come within one frame interval of its start (the rate limit holds no frame
    // back), so the old one need not deliver meanwhile; what matters is that it ran until then.
    assert.equal(oldAliveAtFirstNew, true, 'the old process ran beside the new one until its first frame');
    const firstNew = seen.findIndex((s) => s.pid !== oldPid);
    assert.ok(seen.slice(firstNew).every((s) => s.pid !== oldPid), 'after the switch, frames come from the new process only');
    assert.ok(seen.slice(firstNew).every((s) => s.jpeg && s.gray), 'every frame now has its JPEG and its gray');
    assert.ok(seen.every((s) => s.gray), 'every frame of the switch, old process or new, carries its gray frame');
    assert.equal(stream.snapshot().outputs.jpegEvery, 1);
    await waitFor(() => !isAlive(oldPid), 5000);
    assert.equal(isAlive(oldPid), false, 'the old process went once the new one delivered');
    assert.equal(pool.captures().length, 1);
  });

  it('a live H.264 camera over HTTP, joined mid-GOP: every JPEG is paired with its own gray frame, and a viewer gets every frame from the new process', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-live-'));
    const clip = path.join(dir, 'cam.mp4');
    // A camera's stream (a keyframe every 2 s, no B-frames) whose brightness says which frame it is: lossless, so a
    // JPEG and a gray frame of the same picture have the same mean. A live start's timestamps are far from zero: FFmpeg
    // once duplicated frames on the gray output only, pairing each JPEG with a picture 10-16 frames away.
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', COUNTER.replace(/^testsrc:/, '').replace('s=160x120', 's=320x240'), '-frames:v', '64',
      '-c:v', 'libx264', '-qp', '0', '-preset', 'veryfast', '-g', '20', '-bf', '0', '-pix_fmt', 'yuv420p', clip]);
    const samePicture = async (f) => {
      const { data } = await sharp(f.jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
      // Limited-range gray against the full-range JPEG, which clips what lies above white.
      const g = Math.min(255, Math.max(0, (mean(f.gray['80x60'].data) - 16) * (255 / 219)));
      assert.ok(Math.abs(mean(data) - g) < 4, `JPEG ${mean(data).toFixed(1)} vs gray ${g.toFixed(1)}: the same frame`);
    };
    const cam = await liveCamera(clip);
    try {
      pool = new ProcessPool({ idleGraceMs: 60000 });
      const stream = pool.stream('cam');
      stream.define('src', { capture: { source: cam.url, fps: 10, quality: 5 }, lowFps: 0.5 });
      stream.use('motion', { gray: { width: 80, height: 60 } });
      const motionOnly = await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 2, 20000);
      assert.ok(motionOnly.filter((x) => x.jpeg).length < motionOnly.length / 5, 'stills only while nobody watches');
      for (const f of motionOnly.filter((x) => x.jpeg)) await samePicture(f);
      const oldPid = stream.snapshot().pids[0];
      stream.use('viewer', { run: true, jpeg: 'full' });
      const seen = await collect(stream, (f) => f.filter((x) => x.pid !== oldPid && x.jpeg).length >= 10, 20000);
      const firstNew = seen.findIndex((x) => x.pid !== oldPid);
      assert.ok(firstNew > 0, 'the old process delivered while the new one joined the live stream');
      assert.ok(seen.slice(firstNew).every((x) => x.jpeg && x.gray['80x60']), 'every frame now has its JPEG and its gray');
      for (const f of seen.slice(firstNew)) await samePicture(f);
      assert.equal(pool.captures()[0].stats().unpaired, 0);
      await until(() => cam.clients === 1, 'the old process lets go of the camera once the new one delivered', 5000);
      await until(() => !isAlive(oldPid), 'the old process gone', 5000);
      assert.equal(stream.snapshot().state, 'healthy');
    } finally {
      await pool?.close();
      pool = undefined;
      await cam.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a burst of 20 JPEGs before their gray twins still pairs every frame (a live camera\'s start, a catch-up)', async function () {
    pool = new ProcessPool({ idleGraceMs: 0, ffmpegPath: FAKE('burst') });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: 'rtsp://192.0.2.1/live', fps: 10, quality: 5 }, lowFps: 0 });
    stream.use('motion', { gray: { width: 80, height: 60 } });
    const frames = await collect(stream, (f) => f.length >= 25);
    const incomplete = frames.filter((f) => !f.jpeg || !f.gray['80x60']);
    assert.deepEqual(incomplete.map((f) => f.seq), [], 'frames delivered without their JPEG or gray');
    assert.equal(pool.captures()[0].stats().unpaired, 0);
  });

  it('each gray size asked for comes from the same process, at exactly that size', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5 }, lowFps: 1 });
    stream.use('small', { gray: { width: 80, height: 60 } });
    stream.use('large', { gray: { width: 240, height: 180 } });
    const frames = await collect(stream, (f) => f.filter((x) => x.gray['80x60'] && x.gray['240x180']).length >= 3);
    const both = frames.filter((x) => x.gray['80x60'] && x.gray['240x180']);
    for (const f of both) {
      assert.deepEqual([f.gray['80x60'].width, f.gray['80x60'].height], [80, 60]);
      assert.deepEqual([f.gray['240x180'].width, f.gray['240x180'].height], [240, 180]);
    }
    await until(() => pool.captures().length === 1, 'one process');
    assert.deepEqual(stream.snapshot().outputs.gray, ['80x60', '240x180']);
  });

  it('a viewer content with 2 fps and a 96 px thumbnail gets JPEGs at that rate, each with its thumbnail', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5 }, lowFps: 1 });
    stream.use('viewer', { run: true, jpeg: 2, thumb: 96 });
    const frames = await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 3);
    assert.equal(stream.snapshot().outputs.jpegEvery, 5);
    for (const f of frames.filter((x) => x.jpeg)) {
      assert.ok(f.thumbs && f.thumbs['96'], 'the thumbnail comes with its frame');
      assert.equal((await sharp(f.thumbs['96']).metadata()).width, 96);
      assert.equal((await sharp(f.jpeg).metadata()).width, 320);
    }
  });

  it('motion users\' verdicts are the stream\'s motion state', function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    const seen = [];
    stream.on('motion', (m) => seen.push(m));
    assert.equal(stream.motion, undefined, 'nobody watches for motion');
    stream.reportMotion('a', false);
    stream.reportMotion('b', true);
    stream.reportMotion('a', true);
    stream.reportMotion('b', false);
    assert.equal(stream.motion, true);
    stream.unuse('a', 'now');
    stream.reportMotion('a', false);
    assert.equal(stream.motion, false);
    assert.deepEqual(seen, [false, true, false]);
  });

  it('fewer outputs wait for the idle grace, then a lighter process takes over', async function () {
    pool = new ProcessPool({ idleGraceMs: 1500 });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: COUNTER, fps: 10, quality: 5 }, lowFps: 2 });
    stream.use('motion', { gray: { width: 80, height: 60 } });
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => stream.snapshot().outputs.jpegEvery === 1 && stream.state === 'healthy', 'full rate');
    const fullPid = stream.snapshot().pids[0];
    stream.unuse('viewer', 'grace');
    await delay(700);
    assert.equal(stream.snapshot().pids[0], fullPid, 'within the grace the full-rate process stays (a reload finds it)');
    await until(() => stream.snapshot().outputs.jpegEvery === 5, 'low rate after the grace', 15000);
    assert.notEqual(stream.snapshot().pids[0], fullPid);
  });

  it('a deploy hands users and definition over: same process; what nobody took over stops at settle', async function () {
    pool = new ProcessPool({ idleGraceMs: 60000 });
    const stream = pool.stream('cam');
    const def = { capture: { source: COUNTER, fps: 10, quality: 5 }, lowFps: 1 };
    stream.define('src', def);
    stream.use('src', { run: true, jpeg: 'low' });
    stream.use('motion', { gray: { width: 80, height: 60 } });
    await until(() => stream.state === 'healthy', 'healthy');
    const pid = stream.snapshot().pids[0];
    // Every node closes (parked), new ones with the same ids come back; the motion node does not (it was deleted).
    stream.unuse('src', 'handover');
    stream.undefine('src', 'handover');
    stream.unuse('motion', 'handover');
    stream.define('src', { ...def });
    stream.use('src', { run: true, jpeg: 'low' });
    pool.settle();
    assert.equal(stream.snapshot().pids[0], pid, 'the same process runs on');
    assert.deepEqual(stream.userIds(), ['src']);
    await until(() => stream.snapshot().outputs.gray.length === 0, 'the gray output goes with its user', 15000);
    // The source itself gone too: the process stops at once at the next settle.
    stream.unuse('src', 'handover');
    stream.undefine('src', 'handover');
    const last = stream.snapshot().pids[0];
    pool.settle();
    await until(() => !isAlive(last), 'stopped without an idle grace');
    assert.equal(stream.state, 'idle');
    assert.equal(pool.streams().length, 0, 'the unused stream is forgotten');
  });

  it('refuses a definition no process can be built from with a clear error, and runs nothing', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    assert.throws(
      () => stream.define('src', { capture: { source: 'rtsp://admin:hunter2@192.0.2.1/live', fps: 10, quality: 5, passthrough: true }, lowFps: 1 }),
      (err) => err.name === 'SourceConfigError' && /pass-through reads http/.test(err.message) && !err.message.includes('hunter2'),
    );
    stream.use('viewer', { run: true, jpeg: 'full' });
    assert.equal(stream.state, 'idle');
    assert.match(stream.stateInfo.reason, /no source node defines this stream/);
    assert.equal(pool.captures().length, 0);
  });

  it('a detect source: gray frames from the sub-stream process, JPEG from the main one', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    stream.define('src', {
      capture: { source: 'testsrc2=size=640x360:rate=10', fps: 10, quality: 5 },
      detect: { source: 'testsrc2=size=160x90:rate=10', fps: 10, quality: 5 },
      lowFps: 0,
    });
    stream.use('src', { run: true, jpeg: 'full' });
    stream.use('motion', { gray: { width: 240, height: 180 } });
    await until(() => pool.captures().length === 2 && stream.state === 'healthy', 'two processes');
    const frames = await collect(stream, (f) => f.filter((x) => x.gray['240x180']).length >= 5 && f.filter((x) => x.jpeg).length >= 5);
    assert.ok(frames.filter((x) => x.gray['240x180']).every((x) => !x.jpeg), 'gray frames come alone (the sub-stream\'s stills stand back)');
    const g = frames.find((x) => x.gray['240x180']).gray['240x180'];
    assert.deepEqual([g.width, g.height], [240, 135], 'fitted to the box from the 16:9 sub-stream');
    for (const x of frames.filter((y) => y.jpeg)) assert.equal((await sharp(x.jpeg).metadata()).width, 640, 'JPEGs from the main stream');
    assert.equal(stream.snapshot().outputs.detect, true);
  });

  it('a detect source with nobody watching runs the sub-stream alone, stills included; a viewer brings the main stream back', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('cam');
    stream.define('src', {
      capture: { source: 'testsrc2=size=640x360:rate=10', fps: 10, quality: 5 },
      detect: { source: 'testsrc2=size=160x90:rate=10', fps: 10, quality: 5 },
      lowFps: 2,
    });
    stream.use('src', { run: true, jpeg: 'low' });
    stream.use('motion', { gray: { width: 240, height: 180 } });
    const frames = await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 2);
    assert.equal(pool.captures().length, 1, 'only the sub-stream runs');
    assert.equal((await sharp(frames.find((x) => x.jpeg).jpeg).metadata()).width, 160, 'stills from the sub-stream');
    assert.ok(frames.filter((x) => x.jpeg).length <= Math.ceil(frames.length / 5) + 1, 'at the low rate');
    stream.use('viewer', { run: true, jpeg: 'full' });
    const after = await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 5);
    await until(() => pool.captures().length === 2, 'the main stream for the viewer');
    const widths = await Promise.all(after.filter((x) => x.jpeg).slice(-3).map(async (x) => (await sharp(x.jpeg).metadata()).width));
    assert.deepEqual(widths, [640, 640, 640], 'full-size pictures once the main stream runs, no sub-stream stills among them');
  });

  it('hardware decoding that fails at run time falls back to software at once: degraded, with the reason', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-hw-'));
    const log = path.join(dir, 'starts');
    process.env.FAKE_FFMPEG_HWLOG = log;
    try {
      pool = new ProcessPool({ idleGraceMs: 0, ffmpegPath: FAKE('hw-runtime-error') });
      const stream = pool.stream('cam');
      const plan = hardwarePlan('vaapi', { device: '/dev/dri/renderD128', filters: ['scale_vaapi'] });
      const accel = { key: 'vaapi', resolve: async () => ({ plan }), fallback: (p) => new HwaccelFallback(p.method) };
      stream.define('src', { capture: { source: 'testsrc', fps: 10, quality: 5 }, lowFps: 0, accel });
      stream.use('viewer', { run: true, jpeg: 'full' });
      await until(() => stream.state === 'degraded', 'degraded after the fallback', 20000);
      assert.match(stream.stateInfo.reason, /vaapi failed: .*VAAPI/i);
      assert.equal(stream.snapshot().acceleration, 'software');
      assert.match(stream.snapshot().fallbackReason, /vaapi/);
      await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 3);
      const starts = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
      assert.equal(starts[0], 'hw:vaapi', 'tried in hardware first');
      assert.ok(starts.slice(1).every((s) => s === 'sw'), `then software only: ${starts.join(', ')}`);
      // A deploy of the unchanged source (the same provider key) tries the hardware again at once, and falls back again.
      const before = starts.length;
      stream.define('src', { capture: { source: 'testsrc', fps: 10, quality: 5 }, lowFps: 0, accel });
      await until(() => fs.readFileSync(log, 'utf8').trim().split('\n').slice(before).some((l) => l.split(' ')[1] === 'hw:vaapi'), 'hardware tried on redeploy', 20000);
      await until(() => stream.state === 'degraded' && stream.snapshot().acceleration === 'software', 'software again', 20000);
      await collect(stream, (f) => f.filter((x) => x.jpeg).length >= 3);
    } finally {
      delete process.env.FAKE_FFMPEG_HWLOG;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
