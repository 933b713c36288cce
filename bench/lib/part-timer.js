'use strict';
// A lean MJPEG viewer for benches with many viewers: it reads multipart/x-mixed-replace by each part's
// Content-Length and reports every part the moment its last byte is read, with a name for the frame (its length,
// 16 bytes from its middle and its last 16 bytes: the tail alone repeats where a picture's last rows do not change,
// and lengths collide among a few hundred frames), and the whole body only when asked (a frame's number is read
// from its pixels once per distinct frame, not per viewer).
const http = require('node:http');

const HEADER_END = Buffer.from('\r\n\r\n');
const SAMPLE = 16;

/** Where the middle sample starts in a body of `length` bytes. */
const midOf = (length) => Math.max(0, (length >> 1) - (SAMPLE >> 1));

/** A frame's name, from the whole JPEG. */
function keyOf(jpeg) {
  const mid = midOf(jpeg.length);
  return `${jpeg.length}:${jpeg.subarray(mid, mid + SAMPLE).toString('hex')}:${jpeg.subarray(Math.max(0, jpeg.length - SAMPLE)).toString('hex')}`;
}

class PartTimer {
  /** onPart(ns, key, headers, body?) with process.hrtime.bigint() at the part's last byte. */
  constructor(onPart, { keepBody = false } = {}) {
    this.onPart = onPart;
    this.keepBody = keepBody;
    this.head = Buffer.alloc(0);
    this.remaining = -1;
    this.mid = Buffer.alloc(SAMPLE);
    this.tail = Buffer.alloc(SAMPLE);
    this.body = [];
    this.headers = {};
    this.parts = 0;
  }

  push(chunk) {
    const now = process.hrtime.bigint();
    let off = 0;
    while (off < chunk.length) {
      if (this.remaining < 0) {
        const joined = this.head.length ? Buffer.concat([this.head, chunk.subarray(off)]) : chunk.subarray(off);
        const end = joined.indexOf(HEADER_END);
        if (end < 0) {
          if (joined.length > 8192) throw new Error('part header too long');
          this.head = Buffer.from(joined);
          return;
        }
        const consumed = end + 4 - this.head.length;
        const text = joined.subarray(0, end).toString('latin1');
        this.head = Buffer.alloc(0);
        off += consumed;
        this.headers = {};
        for (const line of text.split('\r\n')) {
          const c = line.indexOf(':');
          if (c > 0) this.headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        const len = Number(this.headers['content-length']);
        if (!Number.isInteger(len) || len <= 0) throw new Error(`part without Content-Length: ${JSON.stringify(text)}`);
        this.remaining = len;
        this.length = len;
        this.pos = 0;
        this.body = [];
      } else {
        const n = Math.min(this.remaining, chunk.length - off);
        const slice = chunk.subarray(off, off + n);
        if (this.keepBody) this.body.push(slice);
        // The two samples of the body that name the frame, wherever the chunks cut them.
        this.copyWindow(this.mid, midOf(this.length), slice);
        this.copyWindow(this.tail, Math.max(0, this.length - SAMPLE), slice);
        this.pos += n;
        off += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.remaining = -1;
          this.parts++;
          const m = midOf(this.length);
          const key = `${this.length}:${this.mid.subarray(0, Math.min(SAMPLE, this.length - m)).toString('hex')}:${this.tail.subarray(0, Math.min(SAMPLE, this.length)).toString('hex')}`;
          this.onPart(now, key, this.headers, this.keepBody ? Buffer.concat(this.body) : undefined);
          this.body = [];
          // The CRLF after the body is left to the header search (it ends before the next delimiter line).
        }
      }
    }
  }

  /** Copies what of `slice` (body bytes from this.pos on) falls into [start, start + SAMPLE) of the body. */
  copyWindow(into, start, slice) {
    const from = Math.max(start, this.pos);
    const to = Math.min(start + SAMPLE, this.pos + slice.length);
    if (from < to) slice.copy(into, from - start, from - this.pos, to - this.pos);
  }
}

/** Opens `url` and feeds a PartTimer; resolves with { close(), timer } once the response headers came (200 only). */
function openTimed(url, onPart, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: status ${res.statusCode}`));
        return;
      }
      const timer = new PartTimer(onPart, opts);
      res.on('data', (c) => {
        try {
          timer.push(c);
        } catch (err) {
          res.destroy(err);
        }
      });
      res.on('error', () => {});
      resolve({ timer, res, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

module.exports = { PartTimer, openTimed, keyOf };
