'use strict';
// How a stream reads its camera, as it learns what the camera answers: read mode auto and FFmpeg start with our own
// client; FFmpeg reads a multipart camera with its multipart reader unless that reader gave up on it.
const assert = require('node:assert/strict');
const { CameraAccess } = require('../../dist/core/stream/camera-access.js');

const HTTP = { source: 'http://cam/stream', kind: 'http', fps: 10, quality: 5 };
const def = (read, capture = HTTP) => ({ capture, lowFps: 0.5, read });
/** How the definition is read now: pass-through, or FFmpeg with its kind. */
const how = (a, d, base = 'b') => {
  const c = a.howRead(d, base).capture;
  return c.passthrough ? 'pass-through' : `ffmpeg ${c.kind}`;
};

describe('camera access: how a camera is read, by what it answered', function () {
  it('auto: our own client first; kept for MJPEG; anything else goes to FFmpeg, once', function () {
    const a = new CameraAccess();
    const d = def('auto');
    assert.equal(how(a, d), 'pass-through');
    assert.equal(a.answered(d, 'b', true), false, 'MJPEG changes nothing');
    assert.equal(how(a, d), 'pass-through');
    assert.equal(a.answered(d, 'b', false), true);
    assert.equal(how(a, d), 'ffmpeg http');
    assert.equal(a.answered(d, 'b', false), false, 'said once');
  });

  it('FFmpeg mode: our client learns the answer, then FFmpeg reads; its multipart reader, unless it gave up', function () {
    const a = new CameraAccess();
    const d = def('ffmpeg');
    assert.equal(how(a, d), 'pass-through', 'probing');
    assert.equal(a.answered(d, 'b', true), true);
    assert.equal(how(a, d), 'ffmpeg http');
    assert.equal(a.multipartRefused(d, 'b', ['http://cam/stream: Connection refused']), false, 'another failure');
    assert.equal(a.multipartRefused(d, 'b', ["[mpjpeg @ 0x55] Expected boundary '--' not found, instead found a line of 11 bytes"]), true);
    assert.equal(how(a, d), 'ffmpeg mjpeg-http', 'JPEGs by their markers');
    assert.equal(a.multipartRefused(d, 'b', ['[mpjpeg @ 0x55] Expected boundary']), false, 'once');
  });

  it('a camera that is not MJPEG read with FFmpeg is a plain http source; a new definition starts afresh', function () {
    const a = new CameraAccess();
    const d = def('ffmpeg');
    a.answered(d, 'b', false);
    assert.equal(how(a, d), 'ffmpeg http');
    assert.equal(a.multipartRefused(d, 'b', ['[mpjpeg @ 0x55] Expected boundary']), false, 'not an MJPEG camera');
    assert.equal(how(a, d, 'other'), 'pass-through', 'another definition has learned nothing yet');
  });

  it('forced pass-through always; an RTSP camera or no read mode: as defined', function () {
    const a = new CameraAccess();
    assert.equal(how(a, def('passthrough')), 'pass-through');
    assert.equal(how(a, def('auto', { source: 'rtsp://cam/s', kind: 'rtsp', fps: 10, quality: 5 })), 'ffmpeg rtsp');
    assert.equal(how(a, def(undefined)), 'ffmpeg http');
  });

  it('one client: after a refused second connection, no two at once for that definition', function () {
    const a = new CameraAccess();
    assert.equal(a.allowsTwo('b'), true);
    assert.equal(a.refusedSecond('b', { ...HTTP }, { ...HTTP }), true);
    assert.equal(a.allowsTwo('b'), false);
    assert.equal(a.allowsTwo('c'), true);
    assert.equal(a.refusedSecond('c', { source: 'testsrc2', kind: 'testsrc', fps: 10, quality: 5 }, HTTP), false, 'a test pattern is not a camera on the network');
  });
});
