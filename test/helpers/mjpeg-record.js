'use strict';
// What an MJPEG camera sent and what a viewer got, part by part, and the comparison of the two (tests and benches of
// real third-party cameras, test/helpers/third-party-cameras.js):
// - recordParts(url): a client that records every JPEG part it receives (arrival time, a digest of the bytes);
// - tapCamera(port, path): a byte-for-byte TCP relay in front of a camera that records what the camera wrote on
//   each connection made through it. A camera such as `motion` paces every client on its own (each gets the newest
//   picture at its own moments), so under load two clients do not get the same pictures: what it sent to the
//   product is known only on the product's own connection;
// - judge(viewer, camera, t0, t1): delivered against sent over a window.
// Timestamps are performance.now() in this process, at arrival.
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const { performance } = require('node:perf_hooks');

const { boundaryOf } = require('./mjpeg-client');

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_PENDING = 8 * 1024 * 1024;

const now = () => performance.now();
const digest = (buf) => crypto.createHash('sha1').update(buf).digest('base64');

/**
 * Multipart parts as cameras really send them (test/helpers/mjpeg-client.js is the strict reader of our own
 * streams). A part's body is its Content-Length of bytes when those end a JPEG (FF D9); otherwise, or without a
 * length, the bytes up to the next delimiter: VLC's first part to a new client declares more bytes than it holds.
 * Bytes before a delimiter (CRLFs, garbage) are skipped. `onPart(body, headers)`.
 */
class PartReader {
  constructor(boundary, onPart) {
    this.delimiter = Buffer.from(`--${boundary}`);
    this.nextDelimiter = Buffer.concat([CRLF, this.delimiter]);
    this.onPart = onPart;
    this.buf = Buffer.alloc(0);
  }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const d = this.buf.indexOf(this.delimiter);
      if (d < 0) {
        // Keep what could be the start of a delimiter.
        this.buf = Buffer.from(this.buf.subarray(Math.max(0, this.buf.length - this.delimiter.length)));
        return;
      }
      const he = this.buf.indexOf(HEADER_END, d);
      if (he < 0) return this.cap();
      const headers = {};
      for (const line of this.buf.subarray(d + this.delimiter.length, he).toString('latin1').split('\r\n')) {
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      const start = he + 4;
      const len = Number(headers['content-length']);
      let end;
      if (Number.isInteger(len) && len > 0) {
        if (this.buf.length < start + len) return this.cap();
        if (this.buf[start + len - 2] === 0xff && this.buf[start + len - 1] === 0xd9) end = start + len;
      }
      if (end === undefined) {
        const next = this.buf.indexOf(this.nextDelimiter, start);
        if (next < 0) return this.cap();
        end = next;
      }
      const body = this.buf.subarray(start, end);
      this.buf = this.buf.subarray(end);
      this.onPart(body, headers);
    }
  }

  cap() {
    if (this.buf.length > MAX_PENDING) throw new Error(`no end of part in ${this.buf.length} bytes`);
  }
}

/**
 * The parts of one response body, given its Content-Type: the boundary comes from it (multipart/x-mixed-replace) or
 * from the body's first line (an application/octet-stream answer, as FFmpeg's and VLC's servers send by default; VLC
 * starts its body with a CRLF). Throws on a body that is not multipart. `onPart(body, headers)`, JPEG bodies only.
 */
class BodyParts {
  constructor(contentType, onPart) {
    this.onPart = (body, headers) => {
      if (body[0] === 0xff && body[1] === 0xd8) onPart(body, headers);
      else this.notJpeg++;
    };
    this.notJpeg = 0;
    const declared = boundaryOf(contentType);
    this.reader = declared ? new PartReader(declared, this.onPart) : undefined;
    this.head = Buffer.alloc(0);
    this.contentType = contentType;
  }

  push(chunk) {
    if (!this.reader) {
      this.head = Buffer.concat([this.head, chunk]);
      const start = this.head[0] === 0x0d && this.head[1] === 0x0a ? 2 : 0;
      const eol = this.head.indexOf(CRLF, start);
      if (eol < 0) {
        if (this.head.length > 200) throw new Error(`no multipart boundary in the ${this.contentType} body`);
        return;
      }
      const line = this.head.subarray(start, eol).toString('latin1');
      if (!line.startsWith('--')) throw new Error(`the ${this.contentType} body starts with ${JSON.stringify(line.slice(0, 40))}, not a boundary`);
      this.reader = new PartReader(line.slice(2), this.onPart);
      chunk = this.head;
    }
    this.reader.push(chunk);
  }
}

/**
 * A client that records every JPEG part of an MJPEG stream: frames [{ t, digest, size, placeholder }] (placeholder:
 * our X-Glimpser-Placeholder header), status, contentType, error, closedAt; close() ends it.
 */
function recordParts(url) {
  const rec = { url, frames: [], status: undefined, contentType: undefined, error: undefined, closedAt: undefined };
  const req = http.get(url, { agent: false }, (res) => {
    rec.status = res.statusCode;
    rec.contentType = res.headers['content-type'];
    if (res.statusCode !== 200) {
      rec.error = `status ${res.statusCode}`;
      res.resume();
      return;
    }
    const parts = new BodyParts(rec.contentType, (body, headers) => {
      rec.frames.push({ t: now(), digest: digest(body), size: body.length, placeholder: Boolean(headers['x-glimpser-placeholder']) });
    });
    res.on('data', (chunk) => {
      try {
        parts.push(chunk);
      } catch (err) {
        rec.error = err.message;
        res.destroy();
      }
    });
    res.on('close', () => {
      rec.closedAt = now();
    });
    res.on('error', () => {});
  });
  req.on('error', (err) => {
    rec.error = rec.error ?? err.message;
    rec.closedAt = rec.closedAt ?? now();
  });
  rec.close = () => req.destroy();
  return rec;
}

/** Reads the raw bytes of one HTTP response (head, then a body plain or chunked) and feeds the body to BodyParts. */
class ResponseReader {
  constructor(onPart) {
    this.onPart = onPart;
    this.state = 'head';
    this.buf = Buffer.alloc(0);
    this.error = undefined;
  }

  push(chunk) {
    if (this.state === 'failed' || this.state === 'done') return;
    try {
      this.read(chunk);
    } catch (err) {
      this.error = err.message;
      this.state = 'failed';
    }
  }

  read(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.state === 'head') {
      const he = this.buf.indexOf(HEADER_END);
      if (he < 0) return;
      const lines = this.buf.subarray(0, he).toString('latin1').split('\r\n');
      this.status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      this.contentType = headers['content-type'];
      this.chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
      this.buf = this.buf.subarray(he + 4);
      if (this.status !== 200) {
        this.state = 'done';
        return;
      }
      this.parts = new BodyParts(this.contentType, this.onPart);
      this.state = this.chunked ? 'size' : 'plain';
    }
    if (this.state === 'plain') {
      const body = this.buf;
      this.buf = Buffer.alloc(0);
      if (body.length) this.parts.push(body);
      return;
    }
    // Chunked: size line, data, CRLF, … until a zero size.
    for (;;) {
      if (this.state === 'size') {
        const eol = this.buf.indexOf(CRLF);
        if (eol < 0) return;
        const size = parseInt(this.buf.subarray(0, eol).toString('latin1').split(';')[0], 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size');
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) {
          this.state = 'done';
          return;
        }
        this.left = size;
        this.state = 'data';
      }
      if (this.state === 'data') {
        const n = Math.min(this.left, this.buf.length);
        if (n) this.parts.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left > 0) return;
        this.state = 'crlf';
      }
      if (this.state === 'crlf') {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.state = 'size';
      }
    }
  }
}

/**
 * A TCP relay on a free loopback port in front of the camera at 127.0.0.1:`port`, passing bytes both ways untouched
 * (with the sockets' own backpressure) and recording, for each connection, the JPEG parts the camera wrote on it:
 * connections [{ opened, closed, parts: [{ t, digest }], status, contentType, error }]. `url` is the camera's URL
 * through the relay (same path). Only for cameras that accept every connection: a refused one would show as an
 * accepted connection closed at once.
 */
async function tapCamera(port, urlPath) {
  const connections = [];
  const sockets = new Set();
  const server = net.createServer((down) => {
    const conn = { opened: now(), closed: undefined, parts: [] };
    connections.push(conn);
    const reader = new ResponseReader((body) => conn.parts.push({ t: now(), digest: digest(body) }));
    const up = net.connect(port, '127.0.0.1');
    sockets.add(down);
    sockets.add(up);
    const end = () => {
      conn.closed = conn.closed ?? now();
      conn.status = reader.status;
      conn.contentType = reader.contentType;
      conn.error = reader.error;
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    up.on('data', (chunk) => reader.push(chunk));
    down.pipe(up);
    up.pipe(down);
    for (const s of [up, down]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}${urlPath}`,
    connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** Consecutive equal digests in a list of records. */
function repeatsIn(list) {
  let n = 0;
  for (let i = 1; i < list.length; i++) if (list[i].digest === list[i - 1].digest) n++;
  return n;
}

/**
 * What a viewer got in the window [t0, t1) against what the camera sent. `camera` is one of
 * - { frames, connections }: a camera with several clients: `frames` a reference client's records (what the camera
 *   offers a client), `connections` what it wrote on the product's own connections (tapCamera);
 * - { clip, sentBetween }: FFmpeg's single-client server, whose JPEGs are the clip's.
 * Returns { sent, delivered, ratio, placeholders, repeats, cameraRepeats, unknown, skipped, events, written, connections }:
 * - sent: what the reference client received in the window (or what the camera wrote on the reader's busiest
 *   connection, when that is more); for the single-client server, the clip's rate times the window (it makes its
 *   frames whether or not its one client is there); `written`: what the camera wrote to the reader in the window;
 * - repeats: consecutive delivered JPEGs with the same bytes; cameraRepeats: the same among what the camera wrote on
 *   the product's busiest connection in the window (motion may send a client one picture twice);
 * - unknown: delivered JPEGs the camera never wrote to the product (byte for byte); skipped: JPEGs it wrote between
 *   the first and the last one delivered that were not delivered (both meaningful for pass-through only: FFmpeg
 *   re-encodes);
 * - events: where repeats and skips happened, in seconds into the window; connections: the product's connections.
 */
function judge(viewer, camera, t0, t1) {
  const inWindow = (f) => f.t >= t0 && f.t < t1;
  const delivered = viewer.frames.filter((f) => inWindow(f) && !f.placeholder);
  const placeholders = viewer.frames.filter((f) => inWindow(f) && f.placeholder).length;
  const events = [];
  const note = (f, what) => {
    if (events.length < 8) events.push(`${what} at ${((f.t - t0) / 1000).toFixed(1)} s`);
  };
  let repeats = 0;
  for (let i = 1; i < delivered.length; i++) {
    if (delivered[i].digest === delivered[i - 1].digest) {
      repeats++;
      note(delivered[i], 'repeat');
    }
  }
  let sent;
  let written;
  let cameraRepeats = 0;
  let unknown = 0;
  let skipped = 0;
  let connections;
  if (camera.frames) {
    connections = camera.connections.length;
    const busiest = camera.connections
      .map((c) => ({ parts: c.parts, n: c.parts.filter(inWindow).length }))
      .reduce((a, b) => (b.n > a.n ? b : a), { parts: [], n: 0 }).parts;
    cameraRepeats = repeatsIn(busiest.filter(inWindow));
    written = busiest.filter(inWindow).length;
    // motion paces each client on its own: the reader's connection may have had a frame or two more than the
    // reference client, and those the camera did send.
    sent = Math.max(camera.frames.filter(inWindow).length, written);
    // Each delivered JPEG is matched to the next part with the same bytes that the camera wrote on that connection
    // (the first one to the one nearest in time): a gap of more than one is parts not delivered.
    const where = new Map();
    busiest.forEach((f, i) => {
      if (!where.has(f.digest)) where.set(f.digest, []);
      where.get(f.digest).push(i);
    });
    let prev;
    for (const f of delivered) {
      const at = where.get(f.digest);
      if (!at) {
        unknown++;
        continue;
      }
      let j;
      if (prev === undefined) j = at.reduce((best, i) => (Math.abs(busiest[i].t - f.t) < Math.abs(busiest[best].t - f.t) ? i : best), at[0]);
      else j = at.find((i) => i > prev) ?? at[at.length - 1];
      if (prev !== undefined && j > prev + 1) {
        skipped += j - prev - 1;
        note(f, `${j - prev - 1} skipped`);
      }
      prev = j;
    }
  } else {
    sent = Math.round((camera.clip.fps * (t1 - t0)) / 1000);
    written = camera.sentBetween(t0, t1);
    const n = camera.clip.digests.length;
    let prev;
    for (const f of delivered) {
      const i = camera.clip.index.get(f.digest);
      if (i === undefined) {
        unknown++;
        continue;
      }
      if (prev !== undefined && i !== prev && i !== (prev + 1) % n) {
        skipped += (i - prev - 1 + n) % n;
        note(f, `clip frame ${i} after ${prev}`);
      }
      prev = i;
    }
  }
  return { sent, delivered: delivered.length, ratio: sent ? delivered.length / sent : 0, placeholders, repeats, cameraRepeats, unknown, skipped, events, written, connections };
}

module.exports = { recordParts, tapCamera, judge, digest, PartReader, BodyParts };
