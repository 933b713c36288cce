'use strict';
// The picture channel, off the page's main thread: one streamed response carries every tile's frames (records:
// see src/core/page/frame-mux.ts), decoded here with createImageBitmap and drawn here on each tile's OffscreenCanvas
// at the display's rate. The page only says which tiles it wants; a dropped connection is reopened with backoff
// and the same tiles asked for again.
importScripts('render.js');

const HELLO = 1;
const FRAME = 2;
const GONE = 3;
const MAX_RECORD = 32 * 1024 * 1024;
/** Nothing at all (not even a ping, which the server sends every 5 s) for this long: the connection is dead. */
const SILENCE_MS = 12000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 3000;

let api = '';
let smooth = true;
/** The page draws (no OffscreenCanvas there): bitmaps are posted to it. */
let drawOnPage = false;
let wanted = [];
let conn = null;
let abort = null;
let backoff = BACKOFF_MIN_MS;
let retryTimer = 0;
let lastBytesAt = 0;
let subscribeBusy = false;
let subscribeAgain = false;
let bytesIn = 0;

/** Per tile: its renderer (when drawn here), decoding state and counters. */
const tiles = new Map();
const decoder = new TextDecoder();

function tile(id) {
  let t = tiles.get(id);
  if (!t) {
    t = { renderer: null, decoding: false, next: null, frames: 0, recent: [], since: 0, lastSeq: -1, placeholder: false };
    tiles.set(id, t);
  }
  return t;
}

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'init') {
    api = m.api;
    smooth = m.smooth;
    drawOnPage = m.drawOnPage;
    connect();
  } else if (m.type === 'canvas') {
    const t = tile(m.id);
    t.renderer = new GlimpserRender.TileRenderer(m.canvas, (w, h) => self.postMessage({ type: 'size', id: m.id, width: w, height: h }));
  } else if (m.type === 'drop') {
    const t = tiles.get(m.id);
    if (t && t.renderer) t.renderer.dispose();
    tiles.delete(m.id);
  } else if (m.type === 'want') {
    wanted = m.tiles;
    subscribe();
  } else if (m.type === 'smooth') {
    smooth = m.on;
  }
};

// --- connection ---------------------------------------------------------------------------------

function setConn(state) {
  self.postMessage({ type: 'conn', state });
}

async function connect() {
  clearTimeout(retryTimer);
  const controller = new AbortController();
  abort = controller;
  conn = null;
  lastBytesAt = Date.now();
  try {
    const res = await fetch(api + 'frames', { cache: 'no-store', credentials: 'same-origin', signal: controller.signal });
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    const reader = res.body.getReader();
    const parser = new RecordParser(onRecord);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      lastBytesAt = Date.now();
      bytesIn += value.length;
      if (!parser.push(value)) throw new Error('bad record');
    }
  } catch (err) {
    // aborted by us, refused, or cut: all the same, try again
  }
  if (abort === controller) retry(controller);
}

function retry(controller) {
  controller.abort();
  abort = null;
  conn = null;
  setConn('retry');
  const wait = backoff * (0.8 + Math.random() * 0.4);
  backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
  retryTimer = setTimeout(connect, wait);
}

setInterval(() => {
  if (abort && Date.now() - lastBytesAt > SILENCE_MS) retry(abort);
}, 1000);

async function subscribe() {
  if (!conn) return;
  if (subscribeBusy) {
    subscribeAgain = true;
    return;
  }
  subscribeBusy = true;
  const forConn = conn;
  try {
    const res = await fetch(api + 'subscribe', {
      method: 'POST',
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ conn: forConn, tiles: wanted }),
    });
    // The server no longer knows this connection (it restarted): open a new one.
    if (res.status === 404 && abort && conn === forConn) retry(abort);
  } catch (err) {
    // the picture connection fails too, and its retry subscribes again
  }
  subscribeBusy = false;
  if (subscribeAgain) {
    subscribeAgain = false;
    subscribe();
  }
}

// --- records ------------------------------------------------------------------------------------

class RecordParser {
  constructor(onRecord) {
    this.onRecord = onRecord;
    this.buf = new Uint8Array(1 << 16);
    this.start = 0;
    this.end = 0;
  }

  /** Appends a chunk and hands over every whole record; false on a malformed stream. */
  push(chunk) {
    if (this.end + chunk.length > this.buf.length) {
      const used = this.end - this.start;
      if (used + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < used + chunk.length) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.buf.subarray(this.start, this.end));
        this.buf = grown;
      }
      this.start = 0;
      this.end = used;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    const view = new DataView(this.buf.buffer, this.buf.byteOffset);
    while (this.end - this.start >= 4) {
      const len = view.getUint32(this.start);
      if (len === 0 || len > MAX_RECORD) return false;
      if (this.end - this.start - 4 < len) break;
      this.onRecord(this.buf.subarray(this.start + 4, this.start + 4 + len), view, this.start + 4);
      this.start += 4 + len;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return true;
  }
}

function onRecord(rec, view, at) {
  const kind = rec[0];
  if (kind === FRAME) {
    const flags = rec[1];
    const idLen = rec[2];
    const id = decoder.decode(rec.subarray(3, 3 + idLen));
    const time = view.getFloat64(at + 3 + idLen);
    const seq = view.getUint32(at + 3 + idLen + 8);
    // A copy: the parser's buffer is reused for the next records.
    const jpeg = rec.slice(3 + idLen + 12);
    frame(id, jpeg, time, seq, (flags & 1) === 1);
  } else if (kind === HELLO) {
    conn = JSON.parse(decoder.decode(rec.subarray(1))).conn;
    backoff = BACKOFF_MIN_MS;
    setConn('open');
    subscribe();
  } else if (kind === GONE) {
    const m = JSON.parse(decoder.decode(rec.subarray(1)));
    self.postMessage({ type: 'gone', id: m.id, reason: m.reason });
  }
}

// --- decoding and drawing ---------------------------------------------------------------------------

function frame(id, jpeg, time, seq, placeholder) {
  const t = tile(id);
  // The endpoint repeats its last frame when the camera pauses: the same picture needs no new decode or fade.
  if (!placeholder && seq === t.lastSeq) return;
  t.lastSeq = placeholder ? -1 : seq;
  const item = { jpeg, time, arrival: performance.timeOrigin + performance.now(), placeholder };
  // One decode per tile at a time; of the frames arriving meanwhile only the newest is kept.
  if (t.decoding) {
    t.next = item;
    return;
  }
  decode(id, t, item);
}

function decode(id, t, item) {
  t.decoding = true;
  createImageBitmap(new Blob([item.jpeg], { type: 'image/jpeg' })).then(
    (bitmap) => {
      t.frames++;
      const at = Date.now();
      prune(t, at);
      if (t.recent.length === 0) t.since = at;
      t.recent.push(at);
      if (t.placeholder !== item.placeholder) {
        t.placeholder = item.placeholder;
        self.postMessage({ type: 'placeholder', id, on: item.placeholder });
      }
      if (!tiles.has(id)) bitmap.close();
      else if (drawOnPage) self.postMessage({ type: 'bitmap', id, bitmap, time: item.time, arrival: item.arrival, placeholder: item.placeholder }, [bitmap]);
      else if (t.renderer) t.renderer.push(bitmap, item.time, item.arrival, item.placeholder);
      else bitmap.close();
      next(id, t);
    },
    () => next(id, t),
  );
}

function next(id, t) {
  t.decoding = false;
  const n = t.next;
  t.next = null;
  if (n) decode(id, t, n);
}

const raf = typeof self.requestAnimationFrame === 'function' ? (f) => self.requestAnimationFrame(f) : (f) => setTimeout(() => f(performance.now()), 16);
function loop(ts) {
  const now = performance.timeOrigin + ts;
  for (const t of tiles.values()) if (t.renderer) t.renderer.draw(now, smooth);
  raf(loop);
}
if (typeof OffscreenCanvas !== 'undefined') raf(loop);

// --- frames per second, for the tiles' labels (and tests) ---------------------------------------------

const RATE_WINDOW_MS = 2000;

function prune(t, now) {
  const cut = now - RATE_WINDOW_MS;
  while (t.recent.length && t.recent[0] <= cut) t.recent.shift();
}

/**
 * Pictures per second over the last 2 s. A tile whose pictures began less than 2 s ago (just subscribed, scrolled
 * into view, resumed) is measured over the time it has been receiving, counted from one interval before its first
 * picture: over the whole window a 5 fps camera would read 2.5 fps for its first second.
 */
function rateOf(t, now) {
  prune(t, now);
  const n = t.recent.length;
  if (n >= 2 && t.since > now - RATE_WINDOW_MS) {
    const interval = (t.recent[n - 1] - t.recent[0]) / (n - 1);
    return (n * 1000) / Math.max(1, now - t.since + interval);
  }
  return (n * 1000) / RATE_WINDOW_MS;
}

setInterval(() => {
  const now = Date.now();
  const out = {};
  for (const [id, t] of tiles) out[id] = { fps: Math.round(rateOf(t, now) * 10) / 10, frames: t.frames, placeholder: t.placeholder };
  self.postMessage({ type: 'stats', tiles: out, bytes: bytesIn, open: conn !== null });
}, 1000);
