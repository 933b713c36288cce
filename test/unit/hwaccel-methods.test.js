'use strict';
// Hardware plans: which arguments and filter chains each method gets, how a mode picks a plan from a probe report,
// and that the chains run (software) or at least parse (hardware) in the real FFmpeg on this machine.
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { hardwarePlan, softwarePlan, HW_METHODS } = require('../../dist/core/hwaccel/methods');
const { planFor } = require('../../dist/core/hwaccel/choose');
const { buildArgs } = require('../../dist/core/ffmpeg/args');
const { MultipartJpegSplitter, FFMPEG_BOUNDARY } = require('../../dist/core/jpeg/multipart-splitter');
const { PgmSplitter } = require('../../dist/core/jpeg/pgm-splitter');
const { jpegSize } = require('../../dist/core/jpeg/jpeg-info');
const { tempDir } = require('../helpers/fixtures');

const ALL_GPU_FILTERS = ['hwdownload', 'scale_vaapi', 'scale_cuda', 'scale_qsv', 'vpp_qsv'];

/** A probe report as hwaccel-probe makes it, reduced to what planFor reads. */
function report(entries, filters = ALL_GPU_FILTERS) {
  return { ffmpegPath: '/x/ffmpeg', version: 'ffmpeg version test', hwaccels: [], unused: [], filters, clips: {}, probedAt: 0, durationMs: 0, entries };
}
const passed = (method, device, hevc = 'passed') => ({ method, device, status: 'passed', codecs: { h264: { status: 'passed' }, hevc: { status: hevc } } });
const failed = (method, device, reason) => ({ method, device, status: 'failed', reason, codecs: { h264: { status: 'failed', reason } } });

describe('hwaccel-args: plans', function () {
  it('the software plan gives exactly the chains buildArgs has always used', function () {
    const args = buildArgs({ source: 'testsrc2=size=1280x720:rate=10', fps: 10, quality: 5, width: 640, gray: { width: 240, height: 180 } });
    const graph = args[args.indexOf('-filter_complex') + 1];
    const sw = softwarePlan();
    assert.deepEqual(sw.inputArgs, []);
    assert.ok(graph.includes(`[a]${sw.scaleChain({ width: 640 }, 'yuv420p')}[out1]`), graph);
    assert.ok(graph.includes(`[b]${sw.scaleChain({ width: 240, height: 180 }, 'gray')}[out2]`), graph);
    const keep = buildArgs({ source: 'testsrc2=size=1280x720:rate=10', fps: 10, quality: 5, gray: { width: 240, height: 180 } });
    assert.ok(keep[keep.indexOf('-filter_complex') + 1].includes(`[a]${sw.scaleChain(undefined, 'yuv420p')}[out1]`));
  });

  it('vaapi: frames stay on the GPU, scale_vaapi before the download, the device named', function () {
    const p = hardwarePlan('vaapi', { device: '/dev/dri/renderD129', filters: ALL_GPU_FILTERS });
    assert.deepEqual(p.inputArgs, ['-hwaccel', 'vaapi', '-hwaccel_device', '/dev/dri/renderD129', '-hwaccel_output_format', 'vaapi']);
    assert.equal(p.label, 'vaapi on /dev/dri/renderD129');
    assert.equal(p.scaleChain({ width: 640 }, 'yuv420p'), 'scale_vaapi=w=640:h=-2:format=nv12,hwdownload,format=nv12|p010le');
    assert.equal(p.scaleChain(undefined, 'yuv420p'), 'hwdownload,format=nv12|p010le');
    // Gray: the GPU takes it to twice the box at most, the CPU averages the luma as in software.
    assert.equal(p.scaleChain({ width: 240, height: 180 }, 'gray'),
      "scale_vaapi=w='min(iw,480)':h=-2:format=nv12,hwdownload,format=nv12|p010le," + softwarePlan().scaleChain({ width: 240, height: 180 }, 'gray'));
  });

  it('cuda: scale_cuda where the binary has it, else download first and scale in software', function () {
    const withScaler = hardwarePlan('cuda', { device: '1', filters: ALL_GPU_FILTERS });
    assert.deepEqual(withScaler.inputArgs, ['-hwaccel', 'cuda', '-hwaccel_device', '1', '-hwaccel_output_format', 'cuda']);
    assert.equal(withScaler.scaleChain({ width: 640 }, 'yuv420p'), 'scale_cuda=w=640:h=-2,hwdownload,format=nv12|p010le');
    const without = hardwarePlan('cuda', { filters: ['hwdownload'] });
    assert.equal(without.scaleChain({ width: 640 }, 'yuv420p'), 'hwdownload,format=nv12|p010le,scale=640:-2');
    assert.equal(without.scaleChain({ width: 240, height: 180 }, 'gray'), `hwdownload,format=nv12|p010le,${softwarePlan().scaleChain({ width: 240, height: 180 }, 'gray')}`);
  });

  it('qsv: the qsv decoder of the codec, -qsv_device, scale_qsv (vpp_qsv when that is all there is)', function () {
    const p = hardwarePlan('qsv', { device: '/dev/dri/renderD128', filters: ALL_GPU_FILTERS });
    assert.deepEqual(p.inputArgs, ['-hwaccel', 'qsv', '-qsv_device', '/dev/dri/renderD128', '-hwaccel_output_format', 'qsv', '-c:v', 'h264_qsv']);
    assert.deepEqual(p.forCodec('hevc').inputArgs.slice(-2), ['-c:v', 'hevc_qsv']);
    assert.equal(p.scaleChain({ width: 640 }, 'yuv420p'), 'scale_qsv=w=640:h=-2,hwdownload,format=nv12|p010le');
    assert.equal(hardwarePlan('qsv', { filters: ['vpp_qsv', 'hwdownload'] }).scaleChain({ width: 640 }, 'yuv420p'), 'vpp_qsv=w=640,hwdownload,format=nv12|p010le');
  });

  it('videotoolbox, d3d11va, dxva2, drm, vulkan: hardware decode, download, software chain', function () {
    const formats = { videotoolbox: 'videotoolbox_vld', d3d11va: 'd3d11', dxva2: 'dxva2_vld', drm: 'drm_prime', vulkan: 'vulkan' };
    for (const [method, format] of Object.entries(formats)) {
      const p = hardwarePlan(method, { filters: ALL_GPU_FILTERS });
      assert.deepEqual(p.inputArgs, ['-hwaccel', method, '-hwaccel_output_format', format], method);
      assert.equal(p.scaleChain({ width: 640 }, 'yuv420p'), 'hwdownload,format=nv12|p010le,scale=640:-2', method);
    }
  });

  it('v4l2m2m: the codec\'s m2m decoder, frames already in system memory, the software chain', function () {
    const p = hardwarePlan('v4l2m2m', { filters: ALL_GPU_FILTERS });
    assert.deepEqual(p.inputArgs, ['-c:v', 'h264_v4l2m2m']);
    assert.deepEqual(p.forCodec('h265').inputArgs, ['-c:v', 'hevc_v4l2m2m']);
    for (const box of [undefined, { width: 640 }, { width: 240, height: 180 }]) {
      for (const f of ['yuv420p', 'gray']) assert.equal(p.scaleChain(box, f), softwarePlan().scaleChain(box, f));
    }
  });

  it('forCodec: a codec the probe did not pass, or never tried, decodes in software', function () {
    const r = report([passed('vaapi', '/dev/dri/renderD128', 'failed')]);
    const { plan } = planFor(r, 'auto');
    assert.equal(plan.forCodec('h264'), plan);
    assert.equal(plan.forCodec(undefined), plan, 'codec unknown: the camera norm');
    assert.equal(plan.forCodec('hevc').method, 'software');
    assert.equal(plan.forCodec('mjpeg').method, 'software');
  });

  it('planFor: auto takes the best method that passed; a named one only where it passed; off is software', function () {
    const r = report([
      failed('cuda', undefined, 'Cannot load libcuda.so.1'),
      failed('vaapi', '/dev/dri/renderD128', 'No VA display found for device /dev/dri/renderD128.'),
      passed('vaapi', '/dev/dri/renderD129'),
      passed('qsv', '/dev/dri/renderD129'),
      { method: 'videotoolbox', status: 'absent', reason: "not in this FFmpeg's -hwaccels list", codecs: { h264: { status: 'skipped' } } },
    ]);
    const auto = planFor(r, 'auto');
    assert.equal(auto.plan.method, 'vaapi');
    assert.equal(auto.plan.device, '/dev/dri/renderD129');
    assert.equal(auto.note, undefined);
    assert.equal(planFor(r, 'qsv').plan.method, 'qsv');
    assert.equal(planFor(r, 'vaapi', '/dev/dri/renderD129').plan.device, '/dev/dri/renderD129');
    const named = planFor(r, 'vaapi', '/dev/dri/renderD128');
    assert.equal(named.plan.method, 'software');
    assert.match(named.note, /vaapi on \/dev\/dri\/renderD128 did not pass the probe \(No VA display found/);
    assert.match(planFor(r, 'cuda').note, /libcuda/);
    assert.match(planFor(r, 'videotoolbox').note, /not available in this FFmpeg/);
    assert.equal(planFor(r, 'off').plan.method, 'software');
    assert.equal(planFor(r, 'off').note, undefined);
    const none = planFor(report([failed('cuda', undefined, 'x')]), 'auto');
    assert.equal(none.plan.method, 'software');
    assert.match(none.note, /no hardware decoding method passed the probe/);
    assert.throws(() => planFor(r, 'opengl'), /Unknown hardware decoding mode/);
  });

  it('auto prefers cuda to vaapi when both pass (a discrete card is there to be used)', function () {
    assert.equal(planFor(report([passed('vaapi', '/dev/dri/renderD128'), passed('cuda', '0')]), 'auto').plan.method, 'cuda');
  });

  it('refuses a device that would read as an option, and boxes out of range', function () {
    assert.throws(() => hardwarePlan('vaapi', { device: '-filter_complex' }), /must not start with "-"/);
    assert.throws(() => softwarePlan().scaleChain({ width: 0 }, 'gray'), /width must be 2 to 16384/);
    assert.throws(() => softwarePlan().scaleChain({ width: 320, height: Number.NaN }, 'yuv420p'), /height must be/);
  });
});

/** Runs FFmpeg (no shell) and collects pipe:1 and pipe:3 as the capture does; resolves with the buffers and stderr. */
function runPipeline(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const out = [];
    const gray = [];
    let stderr = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stdio[3].on('data', (c) => gray.push(c));
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), pipe3: Buffer.concat(gray), stderr }));
  });
}

describe('hwaccel-args: chains in the real FFmpeg', function () {
  this.timeout(60000);
  let dir;
  let clip;
  before(function () {
    dir = tempDir('glimpser-hwargs-');
    clip = path.join(dir, 'cam.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=10',
      '-frames:v', '12', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip], { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the software plan decodes an H.264 clip into JPEG and gray frames of the right sizes, as the capture wires it', async function () {
    const plan = softwarePlan();
    for (const [box, expected] of [[{ width: 320 }, [320, 180]], [undefined, [640, 360]], [{ width: 200, height: 200 }, [200, 113]]]) {
      const graph = `[0:v]fps=10,split=2[a][b];[a]${plan.scaleChain(box, 'yuv420p')}[out1];[b]${plan.scaleChain({ width: 240, height: 180 }, 'gray')}[out2]`;
      const r = await runPipeline(['-hide_banner', '-nostdin', '-loglevel', 'error', ...plan.inputArgs, '-i', clip, '-filter_complex', graph,
        '-map', '[out1]', '-an', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '5', '-f', 'mpjpeg', '-boundary_tag', FFMPEG_BOUNDARY, 'pipe:1',
        '-map', '[out2]', '-an', '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:3']);
      assert.equal(r.code, 0, r.stderr);
      const jpegs = [];
      new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (j) => jpegs.push(Buffer.from(j)) }).push(r.stdout);
      const grays = [];
      new PgmSplitter({ onFrame: (data, width, height) => grays.push({ width, height, bytes: data.length }) }).push(r.pipe3);
      assert.ok(jpegs.length >= 11, `${jpegs.length} JPEG frames`);
      assert.equal(grays.length, jpegs.length);
      const size = jpegSize(jpegs[0]);
      assert.deepEqual([size.width, size.height], expected, JSON.stringify(box));
      assert.deepEqual(grays[0], { width: 240, height: 135, bytes: 240 * 135 });
    }
  });

  it('every hardware plan\'s chain parses in this FFmpeg: options and filters exist, only the device is missing', async function () {
    const chains = new Set();
    const plans = HW_METHODS.map((method) => hardwarePlan(method, { filters: ALL_GPU_FILTERS }));
    plans.push(hardwarePlan('qsv', { filters: ['vpp_qsv', 'hwdownload'] }));
    for (const plan of plans) {
      for (const box of [undefined, { width: 640 }, { width: 240, height: 180 }]) {
        for (const f of ['yuv420p', 'gray']) chains.add(plan.scaleChain(box, f));
      }
    }
    for (const chain of chains) {
      // Software frames into a hardware chain: it gets as far as format negotiation, past option parsing.
      const r = await runPipeline(['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10',
        '-frames:v', '1', '-filter_complex', `[0:v]fps=10,split=1[a];[a]${chain}[o]`, '-map', '[o]', '-f', 'null', '-']);
      assert.doesNotMatch(r.stderr, /Option '.*' not found|Error (?:initializing|parsing) (?:filter|options)|No such filter|Invalid chars|Undefined constant/, chain);
      if (chain.startsWith('hwdownload') || /^scale_(?:vaapi|cuda|qsv)/.test(chain)) {
        assert.match(r.stderr, /Impossible to convert between the formats/, chain);
      } else if (chain.startsWith('vpp_qsv')) {
        // Where w matches the input it passes software frames on, and the failure moves further down the chain.
        assert.notEqual(r.code, 0, chain);
      } else {
        assert.equal(r.code, 0, `${chain}: ${r.stderr}`);
      }
    }
  });
});
