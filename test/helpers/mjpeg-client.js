'use strict';
// A small multipart/x-mixed-replace reader used by the tests and the benchmark: it checks the framing
// strictly (boundary line, Content-Type, Content-Length, trailing CRLF) rather than trusting it.
const http = require('node:http');
const { EventEmitter } = require('node:events');

const HEADER_END = Buffer.from('\r\n\r\n');

class MultipartParser extends EventEmitter {
  /**
   * @param {string} boundary
   * @param {{keep?: 'all'|'head', headBytes?: number}} opts keep 'head' keeps only the first headBytes of each body
   */
  constructor(boundary, opts = {}) {
    super();
    this.delimiter = `--${boundary}`;
    this.keep = opts.keep || 'all';
    this.headBytes = opts.headBytes || 64;
    this.state = 'header';
    this.header = Buffer.alloc(0);
    this.remaining = 0;
    this.chunks = [];
    this.kept = 0;
    this.crlfLeft = 0;
    this.parts = 0;
    this.bytes = 0;
  }

  push(chunk) {
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      if (this.state === 'crlf') {
        const need = this.crlfLeft;
        const expected = need === 2 ? 0x0d : 0x0a;
        if (chunk[off] !== expected) return this.fail(`missing CRLF after part body (byte ${chunk[off]})`);
        off++;
        if (--this.crlfLeft === 0) this.state = 'header';
      } else if (this.state === 'header') {
        const take = chunk.subarray(off);
        const joined = this.header.length ? Buffer.concat([this.header, take]) : take;
        const end = joined.indexOf(HEADER_END);
        if (end < 0) {
          if (joined.length > 4096) return this.fail('part header too long');
          this.header = Buffer.from(joined);
          return;
        }
        const consumedFromChunk = end + 4 - this.header.length;
        const text = joined.subarray(0, end).toString('latin1');
        this.header = Buffer.alloc(0);
        off += consumedFromChunk;
        const lines = text.split('\r\n').filter((l, i) => !(i === 0 && l === ''));
        if (lines[0] !== this.delimiter) return this.fail(`expected ${this.delimiter}, got ${JSON.stringify(lines[0])}`);
        const headers = {};
        for (const line of lines.slice(1)) {
          const c = line.indexOf(':');
          if (c < 0) return this.fail(`bad header line ${JSON.stringify(line)}`);
          headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        if (headers['content-type'] !== 'image/jpeg') return this.fail(`part content-type ${headers['content-type']}`);
        const len = Number(headers['content-length']);
        if (!Number.isInteger(len) || len <= 0) return this.fail(`bad content-length ${headers['content-length']}`);
        this.partHeaders = headers;
        this.remaining = len;
        this.length = len;
        this.chunks = [];
        this.kept = 0;
        this.state = 'body';
      } else {
        const n = Math.min(this.remaining, chunk.length - off);
        const slice = chunk.subarray(off, off + n);
        if (this.keep === 'all') this.chunks.push(slice);
        else if (this.kept < this.headBytes) {
          const k = slice.subarray(0, this.headBytes - this.kept);
          this.chunks.push(k);
          this.kept += k.length;
        }
        this.lastTail = slice.length >= 2 ? slice.subarray(slice.length - 2) : Buffer.concat([this.lastTail || Buffer.alloc(0), slice]).subarray(-2);
        off += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.parts++;
          const body = Buffer.concat(this.chunks);
          this.chunks = [];
          this.emit('part', body, this.length, this.lastTail);
          this.state = 'crlf';
          this.crlfLeft = 2;
        }
      }
    }
  }

  fail(message) {
    this.state = 'failed';
    this.emit('error', new Error(message));
  }
}

function boundaryOf(contentType) {
  const m = /^multipart\/x-mixed-replace;\s*boundary=("?)([^";]+)\1/i.exec(contentType || '');
  return m ? m[2] : undefined;
}

/**
 * Opens a stream URL; resolves with { res, parser, req, close() } once headers arrive.
 * Rejects on a non-200 answer (with err.status).
 */
function openStream(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: opts.headers, localAddress: opts.localAddress }, (res) => {
      if (res.statusCode !== 200) {
        const err = new Error(`status ${res.statusCode}`);
        err.status = res.statusCode;
        err.headers = res.headers;
        res.resume();
        return reject(err);
      }
      const boundary = boundaryOf(res.headers['content-type']);
      if (!boundary) return reject(new Error(`not multipart: ${res.headers['content-type']}`));
      const parser = new MultipartParser(boundary, opts);
      // Parts are queued from the first byte: the first part can arrive in the same packet as the headers.
      const queue = [];
      const waiters = new Set();
      parser.on('part', (body) => {
        if (parser.partHeaders['x-glimpser-placeholder']) body.placeholder = true;
        queue.push(body);
        if (queue.length > (opts.maxQueue || 1000)) queue.shift();
        for (const w of [...waiters]) w();
      });
      parser.on('error', (err) => res.destroy(err));
      if (!opts.paused) res.on('data', (c) => parser.push(c));
      else res.pause();
      res.on('error', () => {});
      resolve({ req, res, parser, queue, waiters, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** Resolves with the next `n` part bodies of an open stream (taken from its queue, oldest first). */
function nextParts(stream, n, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (stream.queue.length >= n) finish();
    };
    const onEnd = () => finish(new Error(`stream ended with ${stream.queue.length} of ${n} parts`));
    const timer = setTimeout(() => finish(new Error(`timeout: ${stream.queue.length} of ${n} parts`)), timeoutMs);
    function finish(err) {
      clearTimeout(timer);
      stream.waiters.delete(check);
      stream.res.off('close', onEnd);
      err ? reject(err) : resolve(stream.queue.splice(0, n));
    }
    stream.waiters.add(check);
    stream.res.on('close', onEnd);
    check();
  });
}

/** GET (or HEAD) a URL fully: { status, headers, body }. */
function fetchBuffer(url, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function isCompleteJpeg(buf) {
  return buf.length > 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff && buf[buf.length - 1] === 0xd9;
}

module.exports = { MultipartParser, boundaryOf, openStream, nextParts, fetchBuffer, isCompleteJpeg };
