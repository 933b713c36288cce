'use strict';
// The runtime policy: which FFmpeg deaths are the hardware's fault, when to fall back, when to try again.
// Stderr lines are FFmpeg's, libva's and CUDA's own wording (FFmpeg 5.1 to 7.x).
const assert = require('node:assert/strict');
const { HwaccelFallback, hardwareErrorIn, failureLine } = require('../../dist/core/hwaccel/fallback');

const HW_LINES = {
  vaapiInit: '[AVHWDeviceContext @ 0x5581b0c7e440] Failed to initialise VAAPI connection: -1 (unknown libva error).',
  noDisplay: '[AVHWDeviceContext @ 0x55f2c3cf70c0] No VA display found for device /dev/dri/renderD128.',
  libva: 'libva error: vaGetDriverNameByIndex() failed with unknown libva error, driver_name = (null)',
  deviceCreation: 'Device creation failed: -542398533.',
  libcuda: '[AVHWDeviceContext @ 0x560393bae140] Cannot load libcuda.so.1',
  cudaError: '[AVHWDeviceContext @ 0x55d5e6abc400] cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected',
  hwaccelInit: '[h264 @ 0x55d0c0a8] Failed setup for format cuda: hwaccel initialisation returned error.',
  convert: "Impossible to convert between the formats supported by the filter 'Parsed_split_0' and the filter 'auto_scale_0'",
  noFrameRef: '[hwdownload @ 0x55c4c3e0a2c0] The input must have a hardware frame reference.',
  surfaces: '[h264 @ 0x5618] No decoder surfaces left',
  decodePicture: '[h264 @ 0x5618] hardware accelerator failed to decode picture',
  mfx: '[h264_qsv @ 0x55a0] Error initializing an MFX session: -9.',
  v4l2: '[h264_v4l2m2m @ 0x5621f1499040] Could not find a valid device',
};

describe('hwaccel-fallback: hardware errors in FFmpeg stderr', function () {
  for (const [name, line] of Object.entries(HW_LINES)) {
    it(`recognises ${name}`, function () {
      const hit = hardwareErrorIn(['Input #0, rtsp, from \'rtsp://cam/1\':', line, 'Conversion failed!']);
      assert.ok(hit, `not recognised: ${line}`);
      assert.ok(!hit.line.startsWith('['), 'the log prefix is stripped');
      assert.ok(line.includes(hit.line.slice(0, 20)), 'the reason quotes FFmpeg');
    });
  }

  it('prefers the specific cause over the generic "Device creation failed" that follows it', function () {
    const hit = hardwareErrorIn([HW_LINES.libcuda, '[AVHWDeviceContext @ 0x1] Could not dynamically load CUDA', HW_LINES.deviceCreation]);
    assert.equal(hit.cause, 'CUDA driver library not found');
    assert.equal(hit.line, 'Cannot load libcuda.so.1');
  });

  it('does not take camera and network errors for hardware ones', function () {
    for (const line of [
      '[tcp @ 0x55] Connection to tcp://10.0.0.9:554?timeout=5000000 failed: Connection refused',
      'rtsp://cam/1: Server returned 401 Unauthorized (authorization failed)',
      '[h264 @ 0x55] error while decoding MB 12 34, bytestream -5',
      'Invalid data found when processing input',
    ]) assert.equal(hardwareErrorIn([line]), undefined, line);
  });

  it('failureLine: the hardware line when there is one, else the last meaningful line', function () {
    assert.match(failureLine([HW_LINES.noDisplay, HW_LINES.deviceCreation, 'Conversion failed!']), /No VA display found for device/);
    assert.equal(failureLine('[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found\nConversion failed!\n'), 'method DESCRIBE failed: 404 Not Found');
    assert.equal(failureLine(''), '');
  });
});

describe('hwaccel-fallback: policy', function () {
  let now;
  const clock = () => now;
  const half = () => 0.5; // no jitter
  beforeEach(function () {
    now = 1_000_000;
  });

  it('a hardware error while accelerated: fall back at once, with the reason, retry after the interval', function () {
    const p = new HwaccelFallback('vaapi', { retryMs: 600_000 }, clock, half);
    assert.equal(p.accelerated, true);
    const d = p.onExit({ stopRequested: false, uptimeMs: 120_000, stderrTail: [HW_LINES.vaapiInit, HW_LINES.deviceCreation] });
    assert.equal(d.action, 'fallback');
    assert.match(d.reason, /^vaapi failed: .*Failed to initialise VAAPI connection/);
    assert.equal(d.retryAt, now + 600_000);
    assert.equal(p.accelerated, false);
    assert.equal(p.reason, d.reason);
    assert.deepEqual(p.health(), { configured: 'vaapi', active: 'software', fallbackReason: d.reason, fallbackSince: now, retryAt: now + 600_000, failures: 1 });
  });

  it('in software (configured or fallen back) exits are none of its business', function () {
    const sw = new HwaccelFallback('software', {}, clock, half);
    assert.equal(sw.accelerated, false);
    assert.deepEqual(sw.onExit({ stopRequested: false, uptimeMs: 1, stderrTail: [HW_LINES.convert] }), { action: 'continue' });
    assert.equal(sw.reason, undefined, 'software by choice is not degraded');
    assert.equal(sw.retryDue(), false);
    const p = new HwaccelFallback('cuda', {}, clock, half);
    p.onExit({ stopRequested: false, uptimeMs: 1, stderrTail: [HW_LINES.libcuda] });
    assert.deepEqual(p.onExit({ stopRequested: false, uptimeMs: 1, stderrTail: [HW_LINES.libcuda] }), { action: 'continue' });
  });

  it('a stop we asked for never causes a fallback', function () {
    const p = new HwaccelFallback('vaapi', {}, clock, half);
    assert.deepEqual(p.onExit({ stopRequested: true, uptimeMs: 10, stderrTail: [HW_LINES.surfaces] }), { action: 'continue' });
    assert.equal(p.accelerated, true);
  });

  it('N quick deaths in a row while accelerated (no other cause): fall back, naming the count and the last line', function () {
    const p = new HwaccelFallback('qsv', { quickDeaths: 3, quickDeathMs: 10_000 }, clock, half);
    const exit = { stopRequested: false, uptimeMs: 2_000, stderrTail: ['[h264_qsv @ 0x1] something odd happened', 'Conversion failed!'] };
    assert.equal(p.onExit(exit).action, 'continue');
    assert.equal(p.onExit(exit).action, 'continue');
    const d = p.onExit(exit);
    assert.equal(d.action, 'fallback');
    assert.equal(d.reason, 'qsv: died 3 times within 10 s of start while accelerated (something odd happened)');
  });

  it('a long run in between resets the count of quick deaths', function () {
    const p = new HwaccelFallback('qsv', { quickDeaths: 2 }, clock, half);
    const quick = { stopRequested: false, uptimeMs: 500, stderrTail: ['Error while decoding stream #0:0: Invalid argument'] };
    assert.equal(p.onExit(quick).action, 'continue');
    assert.equal(p.onExit({ stopRequested: false, uptimeMs: 3_600_000, stderrTail: [] }).action, 'continue');
    assert.equal(p.onExit(quick).action, 'continue');
    assert.equal(p.onExit(quick).action, 'fallback');
  });

  it('quick deaths with a network or camera cause are not blamed on the hardware', function () {
    const p = new HwaccelFallback('vaapi', { quickDeaths: 2 }, clock, half);
    const refused = { stopRequested: false, uptimeMs: 100, stderrTail: ['[tcp @ 0x1] Connection to tcp://cam:554 failed: Connection refused'] };
    for (let i = 0; i < 5; i++) assert.equal(p.onExit(refused).action, 'continue');
    assert.equal(p.accelerated, true);
  });

  it('retries with a doubling wait, clears the reason only once the accelerated process proved stable', function () {
    const p = new HwaccelFallback('vaapi', { retryMs: 1000, retryCapMs: 3000 }, clock, half);
    const fail = { stopRequested: false, uptimeMs: 100, stderrTail: [HW_LINES.noDisplay] };
    p.onExit(fail);
    assert.equal(p.retryDue(), false);
    now += 999;
    assert.equal(p.retryDue(), false);
    now += 1;
    assert.equal(p.retryDue(), true);
    p.startRetry();
    assert.equal(p.accelerated, true);
    assert.ok(p.reason, 'still degraded until the retry proves itself');
    p.onExit(fail);
    assert.equal(p.retryAt, now + 2000, 'second failure: twice the wait');
    now += 2000;
    p.startRetry();
    p.onExit(fail);
    assert.equal(p.retryAt, now + 3000, 'capped');
    now += 3000;
    p.startRetry();
    p.onStable();
    assert.deepEqual(p.health(), { configured: 'vaapi', active: 'vaapi', fallbackReason: undefined, fallbackSince: undefined, retryAt: undefined, failures: 0 });
    p.onExit(fail);
    assert.equal(p.retryAt, now + 1000, 'after a stable run the wait starts over');
  });

  it('retryMs 0: no retry until a redeploy makes a new policy', function () {
    const p = new HwaccelFallback('cuda', { retryMs: 0 }, clock, half);
    const d = p.onExit({ stopRequested: false, uptimeMs: 100, stderrTail: [HW_LINES.cudaError] });
    assert.equal(d.retryAt, undefined);
    now += 1e12;
    assert.equal(p.retryDue(), false);
  });
});

describe('hwaccel-fallback with the runtime fake FFmpeg (dies with a VAAPI error when accelerated)', function () {
  this.timeout(20000);
  const { spawn } = require('node:child_process');
  const path = require('node:path');
  const { hardwarePlan, softwarePlan } = require('../../dist/core/hwaccel/methods');
  const { MultipartJpegSplitter } = require('../../dist/core/jpeg/multipart-splitter');
  const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', 'ffmpeg-hw-runtime-error');

  /** Starts the fake as the capture would (plan input args before -i) and gathers what a supervisor sees. */
  function start(plan, { frames = 0 } = {}) {
    const child = spawn(FAKE, ['-hide_banner', ...plan.inputArgs, '-i', 'rtsp://cam/1', '-map', '0:v:0', '-f', 'mpjpeg', '-boundary_tag', 'ffmpeg', 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAKE_HW_FRAMES: String(frames) },
    });
    const started = Date.now();
    let jpegs = 0;
    const splitter = new MultipartJpegSplitter({ boundary: 'ffmpeg', onFrame: () => { jpegs++; } });
    child.stdout.on('data', (c) => splitter.push(c));
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, uptimeMs: Date.now() - started, stderrTail: stderr.trim().split('\n') })));
    return { child, exited, frames: () => jpegs };
  }

  it('accelerated: exits with the VAAPI error, the policy falls back; in software: frames flow', async function () {
    const policy = new HwaccelFallback('vaapi');
    const hw = start(hardwarePlan('vaapi', { device: '/dev/dri/renderD128' }), { frames: 3 });
    const exit = await hw.exited;
    assert.equal(exit.code, 1);
    assert.equal(hw.frames(), 3, 'it ran accelerated for a while first');
    const d = policy.onExit({ stopRequested: false, ...exit });
    assert.equal(d.action, 'fallback');
    assert.equal(d.reason, 'vaapi failed: Failed to initialise VAAPI connection: -1 (unknown libva error).');
    assert.equal(policy.accelerated, false);
    const sw = start(softwarePlan());
    const { until } = require('../helpers/procs');
    try {
      await until(() => sw.frames() >= 3, 'software frames');
    } finally {
      sw.child.kill('SIGTERM');
      await sw.exited;
    }
  });
});
