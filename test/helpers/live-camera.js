'use strict';
// A live H.264 camera for tests and benches: one FFmpeg plays a file in real time as MPEG-TS (stream copy, so the
// file's keyframe interval stays), and every HTTP client gets the bytes from the moment it connects, cut at a TS
// packet boundary, as a camera's live stream does: a new reader joins mid-GOP and waits for the next keyframe.
const http = require('node:http');
const { spawn } = require('node:child_process');

const TS = 188;

async function liveCamera(file, { ffmpeg = 'ffmpeg' } = {}) {
  const clients = new Set();
  let offset = 0; // bytes into the current TS packet
  const feed = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1', '-f', 'mpegts', 'pipe:1'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  feed.stdout.on('data', (chunk) => {
    for (const c of clients) {
      if (c.started) c.res.write(chunk);
      else {
        const skip = (TS - offset) % TS;
        if (skip < chunk.length) {
          c.started = true;
          c.res.write(chunk.subarray(skip));
        }
      }
    }
    offset = (offset + chunk.length) % TS;
  });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp2t' });
    const c = { res, started: false };
    clients.add(c);
    res.on('close', () => clients.delete(c));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/live.ts`,
    /** Readers connected now. */
    get clients() {
      return clients.size;
    },
    close: async () => {
      for (const c of clients) c.res.destroy();
      server.close();
      if (feed.exitCode !== null || feed.signalCode !== null) return;
      await new Promise((r) => {
        feed.once('close', r);
        feed.kill('SIGTERM');
      });
    },
  };
}

module.exports = { liveCamera };
