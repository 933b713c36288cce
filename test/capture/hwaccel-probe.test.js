'use strict';
// The probe: a fake FFmpeg where vaapi decodes and cuda fails as without the NVIDIA driver, and the real Debian
// FFmpeg on this machine (hwaccels compiled in, no GPU, no /dev/dri: every candidate must fail with its real reason).
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { probeHwaccels, reprobe, clearProbeCache, renderNodes } = require('../../dist/core/hwaccel/probe');
const { planFor } = require('../../dist/core/hwaccel/choose');
const { findOnPath } = require('../../dist/core/ffmpeg/binary');
const { tempDir } = require('../helpers/fixtures');
const { childrenOf } = require('../helpers/procs');

const FAKE = (mode) => path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', `ffmpeg-${mode}`);
const strip = (line) => line.replace(/^(?:\[[^\]@]+ @ (?:0x)?[0-9a-f]+\]\s*)+/i, '').trim();

describe('hwaccel-probe with a fake FFmpeg (vaapi works, cuda does not)', function () {
  this.timeout(30000);
  let dir;
  let counter;
  beforeEach(function () {
    clearProbeCache();
    dir = tempDir('glimpser-hwprobe-test-');
    counter = path.join(dir, 'runs');
    process.env.FAKE_FFMPEG_COUNTER = counter;
  });
  afterEach(function () {
    delete process.env.FAKE_FFMPEG_COUNTER;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const runs = () => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').trim().split('\n').length : 0);

  it('reports vaapi passed (H.264 and HEVC), cuda failed with the CUDA line, the rest absent, and cleans up', async function () {
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    const r = await probeHwaccels(FAKE('hwaccel-probe'), { tmpDir: tmp });
    assert.equal(r.version, 'ffmpeg version fake-hwaccel-probe Copyright (c) glimpser tests');
    assert.deepEqual(r.hwaccels, ['vaapi', 'cuda']);
    assert.deepEqual(r.clips, { h264: 'libx264', hevc: 'libx265' });
    assert.deepEqual(r.filters, ['hwdownload', 'scale_vaapi', 'scale_cuda']);
    const byMethod = Object.fromEntries(r.entries.map((e) => [e.method, e]));
    const vaapi = byMethod.vaapi;
    assert.equal(vaapi.status, 'passed');
    assert.deepEqual(vaapi.codecs, { h264: { status: 'passed', frames: 10 }, hevc: { status: 'passed', frames: 10 } });
    assert.equal(vaapi.reason, undefined);
    const cuda = byMethod.cuda;
    assert.equal(cuda.status, 'failed');
    assert.equal(cuda.reason, 'cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected');
    assert.equal(cuda.codecs.h264.status, 'failed');
    assert.equal(cuda.codecs.hevc.status, 'skipped');
    assert.match(cuda.hint, /NVIDIA/);
    assert.ok(cuda.stderr.some((l) => l.includes('Device creation failed')), 'the stderr tail is kept for the editor');
    for (const m of ['qsv', 'videotoolbox', 'd3d11va', 'dxva2', 'drm', 'vulkan']) {
      assert.equal(byMethod[m].status, 'absent', m);
      assert.equal(byMethod[m].reason, "not in this FFmpeg's -hwaccels list");
    }
    assert.equal(byMethod.v4l2m2m.reason, 'this FFmpeg has no h264_v4l2m2m decoder');
    assert.deepEqual(fs.readdirSync(tmp), [], 'test clips removed');

    const auto = planFor(r, 'auto');
    assert.equal(auto.plan.method, 'vaapi');
    assert.deepEqual(auto.plan.inputArgs.slice(0, 2), ['-hwaccel', 'vaapi']);
    const named = planFor(r, 'cuda');
    assert.equal(named.plan.method, 'software');
    assert.match(named.note, /CUDA_ERROR_NO_DEVICE/);
  });

  it('probes each device given, and a plan names the device that passed', async function () {
    const r = await probeHwaccels(FAKE('hwaccel-probe'), { devices: { vaapi: ['/dev/dri/renderD128', '/dev/dri/renderD129'], cuda: ['0', '1'] } });
    const vaapi = r.entries.filter((e) => e.method === 'vaapi');
    assert.deepEqual(vaapi.map((e) => [e.device, e.status]), [['/dev/dri/renderD128', 'passed'], ['/dev/dri/renderD129', 'passed']]);
    const cuda = r.entries.filter((e) => e.method === 'cuda');
    assert.deepEqual(cuda.map((e) => [e.device, e.status]), [['0', 'failed'], ['1', 'failed']]);
    assert.equal(planFor(r, 'vaapi', '/dev/dri/renderD129').plan.inputArgs[3], '/dev/dri/renderD129');
  });

  it('caches per binary, version and device set; reprobe runs again', async function () {
    const first = await probeHwaccels(FAKE('hwaccel-probe'));
    const n = runs();
    assert.ok(n > 4, `${n} runs`);
    const again = await probeHwaccels(FAKE('hwaccel-probe'));
    assert.equal(again, first, 'same report from the cache');
    assert.equal(runs(), n, 'no FFmpeg decode ran for the cached report');
    const [a, b] = await Promise.all([reprobe(FAKE('hwaccel-probe')), probeHwaccels(FAKE('hwaccel-probe'))]);
    assert.notEqual(a, first);
    assert.ok(b === a || b === first, 'a concurrent caller shares a report');
    assert.ok(runs() > n, 'reprobe ran FFmpeg again');
    const m = runs();
    const other = await probeHwaccels(FAKE('hwaccel-probe'), { devices: { vaapi: ['/dev/dri/renderD130'] } });
    assert.notEqual(other, a);
    assert.ok(runs() > m, 'another device set is another probe');
  });

  it('an FFmpeg that hangs is killed at the timeout: a clear error, no child left behind', async function () {
    const started = Date.now();
    await assert.rejects(probeHwaccels(FAKE('hang'), { timeoutMs: 500 }), /did not answer within 500 ms/);
    assert.ok(Date.now() - started < 10000);
    assert.deepEqual(childrenOf(process.pid, /fake\.js|ffmpeg-hang/), []);
  });

  it('a path that is not FFmpeg is refused with a clear error, not a crash', async function () {
    await assert.rejects(probeHwaccels(path.join(dir, 'nope')), /could not be started|not a working FFmpeg/);
    await assert.rejects(probeHwaccels(''), /needs the path of an FFmpeg binary/);
    await assert.rejects(probeHwaccels(FAKE('hwaccel-probe'), { devices: { vaapi: ['-vf'] } }), /must not start with "-"/);
  });
});

describe('hwaccel-probe with the real FFmpeg on this machine', function () {
  this.timeout(120000);
  const ffmpeg = findOnPath('ffmpeg');
  let report;
  before(async function () {
    if (!ffmpeg) this.skip();
    clearProbeCache();
    report = await probeHwaccels(ffmpeg);
  });

  it('reports every method its -hwaccels lists: probed with the reason from its own stderr, or set aside with why', function () {
    const listed = execFileSync(ffmpeg, ['-hide_banner', '-hwaccels'], { encoding: 'utf8' }).split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
    assert.deepEqual(report.hwaccels, listed);
    for (const name of listed) {
      const entries = report.entries.filter((e) => e.method === name);
      const unused = report.unused.find((u) => u.method === name);
      assert.ok(entries.length > 0 || unused, `${name} is reported`);
      for (const e of entries) {
        assert.notEqual(e.status, 'absent', `${name} is listed, so it is tried`);
        if (e.status === 'failed') {
          assert.ok(e.reason, `${name}: a reason`);
          assert.ok(e.stderr.some((l) => e.reason.includes(strip(l).slice(0, 30))), `${name}: "${e.reason}" quotes FFmpeg (${e.stderr.join(' | ')})`);
        }
      }
    }
    assert.equal(report.clips.h264, 'libx264');
  });

  it('no method passes here (no GPU, no /dev/dri): streams get the software plan, with a note saying why', function () {
    if (renderNodes().length > 0 || fs.existsSync('/dev/nvidia0')) this.skip(); // a machine with a GPU: see the GPU check
    assert.deepEqual(report.entries.filter((e) => e.status === 'passed'), []);
    const { plan, note } = planFor(report, 'auto');
    assert.equal(plan.method, 'software');
    assert.match(note, /no hardware decoding method passed the probe/);
    const vaapi = report.entries.find((e) => e.method === 'vaapi');
    if (vaapi) assert.match(vaapi.hint, /\/dev\/dri/);
  });

  it('a decoder that silently falls back to software is not a pass (Debian\'s vulkan, where it exits 0)', function () {
    const vulkan = report.entries.find((e) => e.method === 'vulkan');
    if (!vulkan) this.skip();
    const dir = tempDir('glimpser-vk-');
    try {
      const clip = path.join(dir, 'c.mp4');
      execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-frames:v', '5', '-c:v', 'libx264', clip]);
      // What an exit-code probe would run: -hwaccel without forcing hardware frames.
      const naive = spawnSync(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-hwaccel', 'vulkan', '-i', clip, '-f', 'null', '-'], { encoding: 'utf8', timeout: 20000 });
      if (naive.status !== 0) this.skip(); // no Vulkan device at all here: nothing silent to catch
      assert.equal(vulkan.status, 'failed');
      assert.match(vulkan.reason, /Impossible to convert between the formats/);
      assert.match(vulkan.hint, /silent fallback/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
