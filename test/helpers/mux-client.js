'use strict';
// Reads the viewer page's picture channel (src/core/page/frame-mux.ts) as the page's worker does: length-prefixed
// records, checked strictly (a bad length or kind fails the reader).
const http = require('node:http');
const { EventEmitter } = require('node:events');

const HELLO = 1;
const FRAME = 2;
const GONE = 3;
const PING = 4;

class MuxReader extends EventEmitter {
  constructor() {
    super();
    this.buf = Buffer.alloc(0);
    this.conn = undefined;
    /** Frames by tile id: [{jpeg, time, seq, placeholder}]. */
    this.frames = new Map();
    this.gone = [];
    this.pings = 0;
    this.bytes = 0;
  }

  push(chunk) {
    this.bytes += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > 32 * 1024 * 1024) return this.emit('error', new Error(`bad record length ${len}`));
      if (this.buf.length < 4 + len) break;
      const rec = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      this.record(rec);
    }
  }

  record(rec) {
    const kind = rec[0];
    if (kind === HELLO) {
      this.conn = JSON.parse(rec.subarray(1).toString('utf8')).conn;
      this.emit('hello', this.conn);
    } else if (kind === FRAME) {
      const idLen = rec[2];
      const id = rec.subarray(3, 3 + idLen).toString('utf8');
      const time = rec.readDoubleBE(3 + idLen);
      const seq = rec.readUInt32BE(3 + idLen + 8);
      const f = { jpeg: Buffer.from(rec.subarray(3 + idLen + 12)), time, seq, placeholder: (rec[1] & 1) === 1 };
      if (!this.frames.has(id)) this.frames.set(id, []);
      this.frames.get(id).push(f);
      this.emit('frame', id, f);
    } else if (kind === GONE) {
      const g = JSON.parse(rec.subarray(1).toString('utf8'));
      this.gone.push(g);
      this.emit('gone', g);
    } else if (kind === PING) {
      this.pings++;
    } else {
      this.emit('error', new Error(`unknown record kind ${kind}`));
    }
  }

  count(id) {
    return this.frames.get(id)?.length ?? 0;
  }
}

/** Opens `url` (the page's api/frames); resolves with { reader, res, req, close() } once the hello record arrived. */
function openMux(url, { paused = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode }));
      }
      const reader = new MuxReader();
      reader.on('error', (err) => res.destroy(err));
      res.on('error', () => {});
      const out = { reader, res, req, close: () => req.destroy() };
      if (paused) {
        // Read only the hello, then stop reading: a client whose connection takes nothing more.
        res.once('data', (c) => {
          res.pause();
          reader.push(c);
          resolve(out);
        });
        return;
      }
      res.on('data', (c) => reader.push(c));
      reader.once('hello', () => resolve(out));
    });
    req.on('error', reject);
  });
}

/** POSTs JSON; resolves with { status, body }. */
function postJson(url, value, headers = {}) {
  return new Promise((resolve, reject) => {
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a Server-Sent Events stream; events are collected in `events` as {event, data}. */
function openEvents(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`status ${res.statusCode}`));
      }
      const out = { res, events: [], close: () => req.destroy(), emitter: new EventEmitter() };
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
        let i;
        while ((i = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (!ev.data) continue;
          ev.data = JSON.parse(ev.data);
          out.events.push(ev);
          out.emitter.emit('event', ev);
        }
      });
      res.on('error', () => {});
      resolve(out);
    });
    req.on('error', reject);
  });
}

module.exports = { MuxReader, openMux, postJson, openEvents };
