'use strict';
// Runs the real FFmpeg with built args and collects frames from pipe:1 (JPEG) and pipe:3 (PGM).
const { spawn } = require('node:child_process');
const { MultipartJpegSplitter } = require('../../dist/core/jpeg/multipart-splitter.js');
const { PgmSplitter } = require('../../dist/core/jpeg/pgm-splitter.js');

/** Children this process started and has not yet seen exit; stopAll() ends them (by our own handles only). */
const live = new Set();

/**
 * Spawns ffmpeg with `args` and resolves once `jpeg` JPEG frames and `gray` PGM frames arrived (then stops the
 * process), or once the process exits by itself. Resolves { jpegs, grays, code, signal, stderr, pid }.
 */
function capture(args, { jpeg = 3, gray = 0, bin = 'ffmpeg' } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    live.add(child);
    const jpegs = [];
    const grays = [];
    let stderr = '';
    let stopping = false;
    // buildArgs writes -f mpjpeg on pipe:1, as production reads it.
    const js = new MultipartJpegSplitter({ onFrame: (f) => { jpegs.push(f); check(); } });
    const ps = new PgmSplitter({ onFrame: (data, width, height) => { grays.push({ data, width, height }); check(); } });
    function check() {
      if (!stopping && jpegs.length >= jpeg && grays.length >= gray) {
        stopping = true;
        child.kill('SIGTERM');
      }
    }
    child.stdout.on('data', (c) => js.push(c));
    child.stdio[3].on('data', (c) => ps.push(c));
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ jpegs, grays, code, signal, stderr, pid: child.pid, stoppedByUs: stopping });
    });
  });
}

async function stopAll() {
  const waits = [];
  for (const child of live) {
    waits.push(new Promise((r) => child.once('close', r)));
    child.kill('SIGKILL');
  }
  await Promise.all(waits);
}

/** Width and height from a JPEG's SOF0/SOF1/SOF2 segment. */
function jpegSize(buf) {
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) throw new Error(`bad JPEG segment at ${i}`);
    const marker = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error('no SOF in JPEG');
}

module.exports = { capture, stopAll, jpegSize };
