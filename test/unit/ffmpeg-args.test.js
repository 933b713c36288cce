'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { buildArgs, rateLimit } = require('../../dist/core/ffmpeg/args.js');
const { displaySource, secretsOf } = require('../../dist/core/ffmpeg/options.js');
const { redact } = require('../../dist/core/ffmpeg/redact.js');
const { detectKind, SourceConfigError } = require('../../dist/core/ffmpeg/source-url.js');
const { sourceSignature } = require('../../dist/core/stream/signature.js');
const { tempDir, ffmpeg, recordMjpeg } = require('../helpers/fixtures');
const { capture, stopAll, jpegSize } = require('../helpers/capture');
const { listen, closeServer } = require('../helpers/http-server');

const PASSWORD = 'p@ss:w/rd%41 é#?';
const USER = 'ad min';

function base(extra) {
  return { fps: 5, quality: 5, ...extra };
}

/** Everything before '-i', and the '-i' value. */
function inputPart(args) {
  const i = args.indexOf('-i');
  assert.ok(i > 0, 'has -i');
  return { before: args.slice(0, i), input: args[i + 1], after: args.slice(i + 2) };
}

function assertSubsequence(list, sub, label) {
  const at = list.findIndex((_, i) => sub.every((s, j) => list[i + j] === s));
  assert.ok(at !== -1, `${label}: ${JSON.stringify(sub)} in ${JSON.stringify(list)}`);
  return at;
}

function basicCreds(header) {
  const m = /^Basic (.+)$/.exec(header || '');
  return m ? Buffer.from(m[1], 'base64').toString('utf8') : undefined;
}

/**
 * A fake RTSP camera that answers 401 (Basic) and then 404: checks that FFmpeg accepts our RTSP input options and
 * authenticates with exactly the injected credentials, and that redact() cleans its error output.
 */
async function rtspAuthCheck(bin, ffmpegVersion) {
  const requests = [];
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 4);
        requests.push(req);
        const cseq = (/CSeq:\s*(\d+)/i.exec(req) || [])[1] || '0';
        const auth = (/^Authorization:\s*(.+)$/im.exec(req) || [])[1];
        sock.write(auth
          ? `RTSP/1.0 404 Not Found\r\nCSeq: ${cseq}\r\n\r\n`
          : `RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n`);
      }
    });
  });
  const { port } = (await listen(server)).address();
  try {
    const o = base({ source: `rtsp://127.0.0.1:${port}/live`, username: USER, password: PASSWORD, ffmpegVersion });
    const r = await capture(buildArgs(o), { jpeg: 1, bin });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /Unrecognized option|Option not found/);
    const authorised = requests.map((q) => (/^Authorization:\s*(.+)$/im.exec(q) || [])[1]).filter(Boolean);
    assert.ok(authorised.length > 0, requests.join('\n---\n'));
    assert.equal(basicCreds(authorised[0].trim()), `${USER}:${PASSWORD}`);
    assert.ok(!redact(r.stderr, secretsOf(o)).includes(PASSWORD));
  } finally {
    await closeServer(server);
  }
}

/** The static FFmpeg (a 2018 build) that @ffmpeg-installer/ffmpeg ships as an optional fallback, if installed. */
function bundledFfmpeg() {
  try {
    const p = require('@ffmpeg-installer/ffmpeg').path;
    return fs.existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

describe('ffmpeg-args', function () {
  describe('detectKind', function () {
    const table = [
      ['rtsp://cam/stream', 'rtsp'], ['RTSPS://cam/s', 'rtsp'], ['http://cam/video', 'http'], ['https://cam/x.m3u8', 'http'],
      // Whether an http camera sends MJPEG is known from its answer, never from the URL's spelling.
      ['http://cam/video.mjpg', 'http'], ['http://cam/axis-cgi/mjpg/video.cgi', 'http'], ['http://cam:81/stream', 'http'],
      ['http://cam:8080/?action=stream', 'http'], ['/dev/video0', 'device'], ['/dev/v4l/by-id/usb-cam', 'device'],
      ['/srv/clip.mp4', 'file'], ['./clip.mp4', 'file'], ['clip.mp4', 'file'], ['file:///srv/clip.mp4', 'file'],
      ['C:\\clips\\a.mp4', 'file'], ['testsrc:testsrc2=size=640x360:rate=5', 'testsrc'],
      ['testsrc2=size=1280x720:rate=10', 'testsrc'], ['smptebars', 'testsrc'], ['  rtsp://cam/x  ', 'rtsp'],
    ];
    for (const [src, kind] of table) {
      it(`${JSON.stringify(src)} -> ${kind}`, function () {
        assert.equal(detectKind(src), kind);
      });
    }
    it('rejects empty sources and unknown schemes with a SourceConfigError', function () {
      for (const bad of ['', '   ', 'ftp://host/file', 'foo://bar', 'udp://239.0.0.1:1234', 'rtmp://x/live']) {
        assert.throws(() => detectKind(bad), (e) => e instanceof SourceConfigError && e.name === 'SourceConfigError', bad);
      }
      assert.throws(() => detectKind('ftp://u:hunter2@host/f'), (e) => !e.message.includes('hunter2') && /ftp:/.test(e.message));
    });
  });

  describe('buildArgs', function () {
    it('starts with quiet global options and puts each kind\'s input options before -i', function () {
      const cases = [
        // Live network input: 1 s of probing instead of FFmpeg's 5 s before the first frame.
        [{ source: 'rtsp://cam/s' }, ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-analyzeduration', '1000000']],
        [{ source: 'http://cam/v' }, ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000', '-analyzeduration', '1000000']],
        // The MJPEG demuxer stamps frames at 25 fps whatever the camera sends: arrival time is the clock.
        [{ source: 'http://cam/v.mjpg', kind: 'mjpeg-http' }, ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000', '-analyzeduration', '1000000', '-f', 'mjpeg']],
        [{ source: '/srv/a.mp4' }, ['-re']],
        [{ source: '/srv/a.mp4', loop: true }, ['-stream_loop', '-1', '-re']],
        [{ source: '/srv/a.mp4', loop: true, realtime: false }, ['-stream_loop', '-1']],
        [{ source: '/srv/a.mp4', realtime: false }, []],
        [{ source: '/dev/video0' }, ['-f', 'v4l2']],
        [{ source: 'testsrc:testsrc2=size=64x64:rate=5' }, ['-re', '-f', 'lavfi']],
        // loop and realtime mean nothing for a camera
        [{ source: 'rtsp://cam/s', loop: true, realtime: true }, ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-analyzeduration', '1000000']],
      ];
      for (const [o, expected] of cases) {
        const { before } = inputPart(buildArgs(base(o)));
        assert.deepEqual(before, ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...expected], JSON.stringify(o));
      }
    });

    it('passes the input as given, files as absolute paths, lavfi specs without the prefix', function () {
      assert.equal(inputPart(buildArgs(base({ source: ' rtsp://Cam.LAN:554/Live/Ch1?b=2&a=1 ' }))).input, 'rtsp://cam.lan/Live/Ch1?b=2&a=1');
      assert.equal(inputPart(buildArgs(base({ source: 'rel/-a:b.mp4' }))).input, path.resolve('rel/-a:b.mp4'));
      assert.equal(inputPart(buildArgs(base({ source: 'file:///srv/my%20clip.mp4' }))).input, '/srv/my clip.mp4');
      assert.equal(inputPart(buildArgs(base({ source: 'testsrc:testsrc2=size=64x64:rate=5' }))).input, 'testsrc2=size=64x64:rate=5');
      assert.equal(inputPart(buildArgs(base({ source: '/dev/video2' }))).input, '/dev/video2');
      // An explicit kind wins over detection.
      assert.equal(inputPart(buildArgs(base({ source: 'http://cam/v.mjpg', kind: 'http' }))).input, 'http://cam/v.mjpg');
    });

    it('uses the pre-5.0 RTSP timeout when told the binary is that old; HTTP options are the same for every release', function () {
      const old = { major: 4, minor: 1 };
      assert.deepEqual(inputPart(buildArgs(base({ source: 'rtsp://cam/s', ffmpegVersion: old }))).before.slice(5), ['-rtsp_transport', 'tcp', '-stimeout', '5000000', '-analyzeduration', '1000000']);
      assert.deepEqual(inputPart(buildArgs(base({ source: 'http://cam/s', ffmpegVersion: old }))).before.slice(5),
        ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000', '-analyzeduration', '1000000']);
      assert.deepEqual(inputPart(buildArgs(base({ source: 'http://cam/s', ffmpegVersion: { major: 6, minor: 0 } }))).before.slice(5),
        ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000', '-analyzeduration', '1000000']);
      assert.ok(inputPart(buildArgs(base({ source: 'rtsp://cam/s', ffmpegVersion: { major: 6, minor: 0 } }))).before.includes('-timeout'));
      assert.equal(sourceSignature(base({ source: 'rtsp://cam/s', ffmpegVersion: old })), sourceSignature(base({ source: 'rtsp://cam/s' })));
    });

    it('places hwaccel args first and extra input args last before -i', function () {
      const { before } = inputPart(buildArgs(base({ source: 'rtsp://cam/s', hwaccelArgs: ['-hwaccel', 'vaapi'], extraInputArgs: ['-probesize', '32'] })));
      assert.deepEqual(before.slice(5), ['-hwaccel', 'vaapi', '-rtsp_transport', 'tcp', '-timeout', '5000000', '-analyzeduration', '1000000', '-probesize', '32']);
    });

    it('builds one JPEG output with fps and optional even-width scale, video only', function () {
      const plain = inputPart(buildArgs(base({ source: 'rtsp://cam/s' }))).after;
      assert.deepEqual(plain, ['-map', '0:v:0', '-vf', rateLimit(5), '-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '5', '-thread_type', 'slice', '-f', 'mpjpeg', '-boundary_tag', 'ffmpeg', 'pipe:1']);
      const scaled = inputPart(buildArgs(base({ source: 'rtsp://cam/s', width: 641, fps: 2.5, quality: 31 }))).after;
      assert.deepEqual(scaled.slice(0, 4), ['-map', '0:v:0', '-vf', `${rateLimit(2.5)},scale=640:-2`]);
      assertSubsequence(scaled, ['-q:v', '31'], 'quality');
      assert.ok(!scaled.includes('pipe:3'));
    });

    it('builds a split filter graph with a gray PGM output on pipe:3 when asked', function () {
      const after = inputPart(buildArgs(base({ source: 'rtsp://cam/s', width: 640, gray: { width: 160, height: 120 } }))).after;
      assert.deepEqual(after, [
        '-filter_complex',
        `[0:v]${rateLimit(5)},split=2[a][b];[a]scale=640:-2[out1];[b]extractplanes=y,scale=w=160:h=120:force_original_aspect_ratio=decrease:flags=area,format=gray[out2]`,
        // Every output frame-exact (no per-output duplicates): the n-th frame of each is the same picture.
        '-map', '[out1]', '-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '5', '-thread_type', 'slice', '-f', 'mpjpeg', '-boundary_tag', 'ffmpeg', 'pipe:1',
        '-map', '[out2]', '-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:3',
      ]);
      const unscaled = inputPart(buildArgs(base({ source: 'rtsp://cam/s', gray: { width: 160, height: 120 } }))).after;
      assert.match(unscaled[1], /\[a\]null\[out1\]/);
    });

    it('makes one gray output per distinct size, on pipe:3 and up, smallest first', function () {
      const after = inputPart(buildArgs(base({ source: 'rtsp://cam/s', gray: [{ width: 320, height: 240 }, { width: 160, height: 120 }, { width: 320, height: 240 }] }))).after;
      assert.equal(after[1],
        `[0:v]${rateLimit(5)},split=3[a][b][c];[a]null[out1];` +
        '[b]extractplanes=y,scale=w=160:h=120:force_original_aspect_ratio=decrease:flags=area,format=gray[out2];' +
        '[c]extractplanes=y,scale=w=320:h=240:force_original_aspect_ratio=decrease:flags=area,format=gray[out3]');
      assertSubsequence(after, ['-map', '[out2]'], 'first gray');
      assert.equal(after[after.indexOf('[out2]') + 10], 'pipe:3');
      assert.equal(after[after.indexOf('[out3]') + 10], 'pipe:4');
      assert.throws(() => buildArgs(base({ source: 'rtsp://cam/s', gray: [1, 2, 3, 4, 5].map((i) => ({ width: 16 * i, height: 16 })) })), /At most 4/);
    });

    it('thins the JPEG output to every n-th frame by index, passing timestamps through so nothing is duplicated', function () {
      const after = inputPart(buildArgs(base({ source: 'rtsp://cam/s', jpegEvery: 5, gray: { width: 160, height: 120 } }))).after;
      assert.ok(after[1].includes(String.raw`[a]select=not(mod(n\,5))[out1]`), after[1]);
      assertSubsequence(after, ['-map', '[out1]', '-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-c:v', 'mjpeg'], 'JPEG output');
      const plain = inputPart(buildArgs(base({ source: 'rtsp://cam/s', jpegEvery: 5 }))).after;
      assert.deepEqual(plain.slice(0, 4), ['-map', '0:v:0', '-vf', `${rateLimit(5)},select=not(mod(n\\,5))`]);
      const old = inputPart(buildArgs(base({ source: 'rtsp://cam/s', jpegEvery: 5, ffmpegVersion: { major: 4, minor: 1 } }))).after;
      assertSubsequence(old, ['-vsync', 'passthrough'], 'FFmpeg before 5.1');
      assert.throws(() => buildArgs(base({ source: 'rtsp://cam/s', jpegEvery: 0 })), /jpegEvery/);
    });

    it('a detect-only process makes gray frames and no JPEG', function () {
      const after = inputPart(buildArgs(base({ source: 'rtsp://cam/sub', jpeg: false, gray: { width: 160, height: 120 } }))).after;
      assert.equal(after[1], `[0:v]${rateLimit(5)},extractplanes=y,scale=w=160:h=120:force_original_aspect_ratio=decrease:flags=area,format=gray[out1]`);
      assert.ok(!after.includes('pipe:1'));
      assert.equal(after.at(-1), 'pipe:3');
      assert.throws(() => buildArgs(base({ source: 'rtsp://cam/sub', jpeg: false })), /needs a gray output/);
    });

    it('takes a hardware plan\'s input options and its GPU scaling chains for both outputs', function () {
      const { hardwarePlan, softwarePlan } = require('../../dist/core/hwaccel/methods');
      const plan = hardwarePlan('vaapi', { device: '/dev/dri/renderD128', filters: ['scale_vaapi'] });
      const args = buildArgs(base({ source: 'rtsp://cam/s', width: 640, gray: { width: 160, height: 120 }, plan }));
      const { before, after } = inputPart(args);
      assertSubsequence(before, ['-hwaccel', 'vaapi', '-hwaccel_device', '/dev/dri/renderD128', '-hwaccel_output_format', 'vaapi', '-rtsp_transport'], 'input options');
      assert.ok(after[1].includes(plan.scaleChain({ width: 640 }, 'yuv420p')), after[1]);
      assert.ok(after[1].includes(plan.scaleChain({ width: 160, height: 120 }, 'gray')), after[1]);
      // The software plan changes nothing.
      const sw = base({ source: 'rtsp://cam/s', width: 640, gray: { width: 160, height: 120 } });
      assert.deepEqual(buildArgs({ ...sw, plan: softwarePlan() }), buildArgs(sw));
      assert.notEqual(sourceSignature({ ...sw, plan }), sourceSignature(sw), 'a hardware process is not shared with a software one');
    });

    it('refuses pass-through for anything but an http(s) camera, and runs no FFmpeg for it', function () {
      assert.throws(() => sourceSignature(base({ source: 'rtsp://cam/s', passthrough: true })), /pass-through reads http/);
      assert.throws(() => buildArgs(base({ source: 'http://cam/v.mjpg', passthrough: true })), /runs no FFmpeg/);
      assert.notEqual(sourceSignature(base({ source: 'http://cam/v.mjpg', passthrough: true })), sourceSignature(base({ source: 'http://cam/v.mjpg' })));
    });

    it('puts credentials only into the -i URL, percent-encoded, and they decode back exactly', function () {
      const o = base({ source: 'rtsp://old:old@cam/s?x=1', username: USER, password: PASSWORD });
      const args = buildArgs(o);
      const holders = args.filter((a) => a.includes(encodeURIComponent(PASSWORD)));
      assert.deepEqual(holders, [args[args.indexOf('-i') + 1]]);
      const input = holders[0];
      const m = /^rtsp:\/\/([^:@]*):([^@]*)@cam\/s\?x=1$/.exec(input);
      assert.ok(m, input);
      assert.equal(decodeURIComponent(m[1]), USER);
      assert.equal(decodeURIComponent(m[2]), PASSWORD);
      assert.ok(!args.some((a) => a.includes('old:old')), 'option credentials replace URL credentials');
      // Credentials mean nothing for files or lavfi.
      assert.ok(!buildArgs(base({ source: '/srv/a.mp4', password: PASSWORD })).join(' ').includes(PASSWORD));
    });

    it('rejects bad settings with a SourceConfigError that never shows the password', function () {
      const bad = [
        { source: 'rtsp://admin:hunter2@/path' },
        { source: 'rtsp://admin:hunter2@cam:99999/x' },
        { source: 'rtsp://admin:hunter2@cam/a b' },
        { source: 'http://admin:hunter2@cam/x', kind: 'rtsp' },
        { source: 'rtsp://cam/x', password: 'hunter2', fps: 0 },
        { source: 'rtsp://cam/x', password: 'hunter2', fps: Number.NaN },
        { source: 'rtsp://cam/x', password: 'hunter2', fps: 500 },
        { source: 'rtsp://cam/x', password: 'hunter2', quality: 1 },
        { source: 'rtsp://cam/x', password: 'hunter2', quality: 40 },
        { source: 'rtsp://cam/x', password: 'hunter2', width: -4 },
        { source: 'rtsp://cam/x', password: 'hunter2', gray: { width: 2, height: 100 } },
        { source: 'rtsp://cam/x', password: 'hunter2', hwaccelArgs: '-hwaccel vaapi' },
        { source: 'testsrc:' },
        { source: 'testsrc:-i /etc/passwd' },
        { source: '' },
        { source: 'gopher://admin:hunter2@x/' },
        { source: '/srv/a.mp4', kind: 'bogus' },
      ];
      for (const o of bad) {
        assert.throws(() => buildArgs(base(o)), (e) => {
          assert.ok(e instanceof SourceConfigError, `${JSON.stringify(o)}: ${e}`);
          assert.ok(!e.message.includes('hunter2'), e.message);
          assert.ok(e.message.length > 10);
          return true;
        }, JSON.stringify(o));
        assert.throws(() => sourceSignature(base(o)), SourceConfigError);
      }
    });
  });

  describe('sourceSignature', function () {
    const same = [
      [{ source: 'rtsp://cam/s' }, { source: '  RTSP://CAM:554/s ' }],
      [{ source: 'rtsp://cam' }, { source: 'rtsp://cam:554/' }],
      [{ source: 'https://cam/v?b=2&a=1&a=0' }, { source: 'https://cam:443/v?a=1&a=0&b=2#frag' }],
      [{ source: 'http://u:p@cam/v' }, { source: 'http://cam/v', username: 'u', password: 'p' }],
      [{ source: 'http://u:p%40@cam/v' }, { source: 'http://cam/v', username: 'u', password: 'p@' }],
      [{ source: 'clip.mp4' }, { source: path.resolve('clip.mp4') }],
      [{ source: 'file:///srv/clip.mp4' }, { source: '/srv/clip.mp4' }],
      [{ source: 'rtsp://cam/s', width: 641 }, { source: 'rtsp://cam/s', width: 640 }],
      [{ source: 'rtsp://cam/s', width: 0 }, { source: 'rtsp://cam/s' }],
      [{ source: 'rtsp://cam/s', loop: true, realtime: false }, { source: 'rtsp://cam/s' }],
      [{ source: 'testsrc:testsrc2=size=64x64' }, { source: 'testsrc2=size=64x64' }],
    ];
    for (const [a, b] of same) {
      it(`equal: ${JSON.stringify(a)} ~ ${JSON.stringify(b)}`, function () {
        assert.equal(sourceSignature(base(a)), sourceSignature(base(b)));
      });
    }
    const different = [
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/S' }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam:8554/s' }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsps://cam/s' }],
      [{ source: 'rtsp://cam/s', username: 'u', password: 'a' }, { source: 'rtsp://cam/s', username: 'u', password: 'b' }],
      [{ source: 'rtsp://cam/s', username: 'u', password: 'a' }, { source: 'rtsp://cam/s' }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/s', fps: 6 }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/s', quality: 6 }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/s', width: 320 }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/s', gray: { width: 160, height: 120 } }],
      [{ source: '/a.mp4' }, { source: '/a.mp4', loop: true }],
      [{ source: '/a.mp4' }, { source: '/a.mp4', realtime: false }],
      [{ source: 'rtsp://cam/s' }, { source: 'rtsp://cam/s', hwaccelArgs: ['-hwaccel', 'vaapi'] }],
      [{ source: 'http://cam/v.mjpg', kind: 'mjpeg-http' }, { source: 'http://cam/v.mjpg', kind: 'http' }],
    ];
    for (const [a, b] of different) {
      it(`different: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`, function () {
        assert.notEqual(sourceSignature(base(a)), sourceSignature(base(b)));
      });
    }
    it('holds neither user name nor password in clear or encoded', function () {
      const sig = sourceSignature(base({ source: 'rtsp://cam/s', username: 'camadmin', password: PASSWORD }));
      for (const s of ['camadmin', PASSWORD, encodeURIComponent(PASSWORD)]) assert.ok(!sig.includes(s), sig);
      const sig2 = sourceSignature(base({ source: 'rtsp://camadmin:hunter2@cam/s' }));
      assert.ok(!sig2.includes('hunter2') && !sig2.includes('camadmin'), sig2);
      assert.match(sig2, /cred=[0-9a-f]{16}\|/);
    });
  });

  describe('redact and displaySource', function () {
    it('removes userinfo, secret query parameters and every given secret (clear and encoded)', function () {
      const text = [
        "[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized rtsp://admin:hunter2@192.168.1.9:554/live",
        "http://u:p%40ss@cam/x?user=bob&password=s3cret&channel=1&token=abc.def",
        "'https://cam/api?apikey=XYZ'",
        `Error opening input file ${encodeURIComponent(PASSWORD)} and ${PASSWORD}`,
        'odd@host rtsp://a:b@c:d@host/x',
      ].join('\n');
      const out = redact(text, [PASSWORD, '', 'hunter2']);
      for (const leak of ['hunter2', 'p%40ss', 's3cret', 'abc.def', 'XYZ', PASSWORD, encodeURIComponent(PASSWORD), 'a:b@c:d']) {
        assert.ok(!out.includes(leak), `leaks ${leak}: ${out}`);
      }
      assert.match(out, /rtsp:\/\/\*\*\*@192\.168\.1\.9:554\/live/);
      assert.match(out, /user=bob&password=\*\*\*&channel=1&token=\*\*\*/);
      assert.match(out, /rtsp:\/\/\*\*\*@host\/x/);
      assert.equal(redact('frame=  10 fps=5.0', ['hunter2']), 'frame=  10 fps=5.0');
    });

    it('shows the source without credentials and never throws', function () {
      assert.equal(displaySource(base({ source: 'rtsp://admin:hunter2@Cam:554/s?b=1', username: 'x', password: 'y' })), 'rtsp://cam/s?b=1');
      assert.equal(displaySource(base({ source: 'http://cam/snap?pwd=hunter2&chan=1' })), 'http://cam/snap?pwd=***&chan=1');
      assert.equal(displaySource(base({ source: 'testsrc2=size=8x8' })), 'testsrc:testsrc2=size=8x8');
      assert.equal(displaySource(base({ source: '/srv/a.mp4' })), '/srv/a.mp4');
      assert.equal(displaySource(base({ source: 'ftp://admin:hunter2@host/f' })), 'ftp://***@host/f');
      assert.equal(displaySource(base({ source: 'rtsp://cam/x', password: 'hunter2', fps: -1 })), 'rtsp://cam/x');
      assert.equal(displaySource({}), '');
    });

    it('secretsOf lists the password from options and from the URL, clear and encoded', function () {
      const s = secretsOf(base({ source: 'rtsp://u:p%40x@cam/', password: 'opt pw' }));
      for (const x of ['opt pw', 'opt%20pw', 'p%40x', 'p@x']) assert.ok(s.includes(x), x);
    });
  });

  describe('real FFmpeg runs of the built args', function () {
    this.timeout(60000);
    let dir;
    let clip;

    before(function () {
      dir = tempDir('glimpser-args-');
      clip = path.join(dir, 'clip.mp4');
      // 1280x720 H.264 with an audio track (which must not reach our outputs), moov first so HTTP needs no seeks.
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
        '-movflags', '+faststart', clip]);
    });

    afterEach(async function () {
      await stopAll();
    });

    after(function () {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('lavfi testsrc: scaled JPEGs on pipe:1 and gray PGMs that fit the box on pipe:3', async function () {
      const args = buildArgs(base({ source: 'testsrc2=size=1280x720:rate=10', fps: 10, width: 640, gray: { width: 160, height: 120 } }));
      const r = await capture(args, { jpeg: 3, gray: 3 });
      assert.ok(r.stoppedByUs, `ffmpeg ended early: ${r.stderr}`);
      assert.ok(r.jpegs.length >= 3 && r.grays.length >= 3);
      assert.deepEqual(jpegSize(r.jpegs[0]), { width: 640, height: 360 });
      for (const g of r.grays) {
        assert.deepEqual([g.width, g.height], [160, 90]);
        assert.equal(g.data.length, 160 * 90);
      }
      assert.equal(r.stderr, '', 'no errors or warnings printed');
    });

    it('lavfi testsrc without gray: JPEGs at source size, nothing on pipe:3', async function () {
      const r = await capture(buildArgs(base({ source: 'testsrc:testsrc2=size=320x240:rate=10', fps: 10 })), { jpeg: 3 });
      assert.ok(r.stoppedByUs, r.stderr);
      assert.deepEqual(jpegSize(r.jpegs[0]), { width: 320, height: 240 });
      assert.equal(r.grays.length, 0);
    });

    it('H.264 file with audio, looped in real time: JPEG and gray frames', async function () {
      const r = await capture(buildArgs(base({ source: clip, loop: true, fps: 10, width: 320, gray: { width: 64, height: 64 } })), { jpeg: 3, gray: 3 });
      assert.ok(r.stoppedByUs, r.stderr);
      assert.deepEqual(jpegSize(r.jpegs[0]), { width: 320, height: 180 });
      assert.deepEqual([r.grays[0].width, r.grays[0].height], [64, 36]);
      assert.equal(r.stderr, '');
    });

    it('H.264 file read once as fast as possible: ends by itself with 2 s worth of frames on both pipes', async function () {
      const r = await capture(buildArgs(base({ source: `file://${clip}`, realtime: false, fps: 5, gray: { width: 80, height: 80 } })), { jpeg: 1000, gray: 1000 });
      assert.equal(r.stoppedByUs, false);
      assert.equal(r.code, 0, r.stderr);
      // 2 s at 5 fps, plus what the rate limit lets through at once before it holds frames back (rateBurst(5) = 3).
      assert.ok(r.jpegs.length >= 9 && r.jpegs.length <= 13, `jpegs ${r.jpegs.length}`);
      assert.equal(r.grays.length, r.jpegs.length);
      assert.deepEqual(jpegSize(r.jpegs[0]), { width: 1280, height: 720 });
    });

    it('HTTP with Basic auth: FFmpeg sends exactly the credentials we injected, and redact() cleans its 401 error', async function () {
      const seen = [];
      const server = http.createServer((req, res) => {
        const creds = basicCreds(req.headers.authorization);
        seen.push(creds);
        if (creds !== `${USER}:${PASSWORD}`) {
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' }).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'video/mp4' });
        fs.createReadStream(clip).pipe(res);
      });
      const { port } = (await listen(server)).address();
      try {
        const o = base({ source: `http://127.0.0.1:${port}/clip.mp4`, username: USER, password: PASSWORD, fps: 5, gray: { width: 32, height: 32 } });
        const r = await capture(buildArgs(o), { jpeg: 2, gray: 2 });
        assert.ok(r.stoppedByUs, r.stderr);
        assert.ok(seen.includes(`${USER}:${PASSWORD}`), JSON.stringify(seen));

        const wrong = { ...o, password: `${PASSWORD}-wrong` };
        const bad = await capture(buildArgs(wrong), { jpeg: 1 });
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /401/);
        const clean = redact(bad.stderr, secretsOf(wrong));
        assert.match(clean, /401/);
        for (const leak of [wrong.password, encodeURIComponent(wrong.password), PASSWORD, encodeURIComponent(PASSWORD)]) {
          assert.ok(!clean.includes(leak), clean);
        }
      } finally {
        await closeServer(server);
      }
    });

    it('an MJPEG camera read by FFmpeg as a plain http source: its frames, scaled', async function () {
      const rec = recordMjpeg(dir, { size: '320x240', frames: 10, q: 5, name: 'mp' });
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
        let i = 0;
        const send = () => {
          const f = rec.frames[i++ % rec.frames.length];
          res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\n\r\n`);
          res.write(f);
          res.write('\r\n');
        };
        const timer = setInterval(send, 50);
        send();
        res.on('close', () => clearInterval(timer));
      });
      const { port } = (await listen(server)).address();
      try {
        const o = base({ source: `http://127.0.0.1:${port}/video.mjpg`, fps: 10, width: 160 });
        assert.equal(detectKind(o.source), 'http');
        const r = await capture(buildArgs(o), { jpeg: 3 });
        assert.ok(r.stoppedByUs, r.stderr);
        assert.deepEqual(jpegSize(r.jpegs[0]), { width: 160, height: 120 });
      } finally {
        await closeServer(server);
      }
    });

    it('RTSP: FFmpeg accepts our input options and answers a 401 with exactly the injected credentials', async function () {
      await rtspAuthCheck('ffmpeg', undefined);
    });

    it('bundled 2018 static FFmpeg (@ffmpeg-installer, optional): the legacy args run on lavfi with both outputs and on RTSP', async function () {
      const bin = bundledFfmpeg();
      if (!bin) this.skip();
      const version = { major: 4, minor: 1 };
      const r = await capture(buildArgs(base({ source: 'testsrc2=size=640x360:rate=10', fps: 10, width: 320, gray: { width: 64, height: 64 }, ffmpegVersion: version })), { jpeg: 2, gray: 2, bin });
      assert.ok(r.stoppedByUs, r.stderr);
      assert.deepEqual(jpegSize(r.jpegs[0]), { width: 320, height: 180 });
      assert.deepEqual([r.grays[0].width, r.grays[0].height], [64, 36]);
      await rtspAuthCheck(bin, version);
    });

    it('device: FFmpeg accepts -f v4l2 and fails only on the missing device', async function () {
      const r = await capture(buildArgs(base({ source: '/dev/video99' })), { jpeg: 1 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\/dev\/video99/);
      assert.doesNotMatch(r.stderr, /Unrecognized option|Option not found|Unknown input format/);
    });
  });
});
