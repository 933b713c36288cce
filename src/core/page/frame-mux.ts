import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { MjpegEndpoint, ViewerRequest } from '../serve/mjpeg-endpoint';
import type { Part } from '../jpeg/multipart-writer';
import { tcpSendQueues } from '../serve/tcp-queues';
import type { TakeSample, Viewer, ViewerSink } from '../serve/viewer-hub';

/**
 * The viewer page's picture channel: many endpoints' frames over one HTTP response, so a page of any number of
 * cameras needs one connection for pictures (browsers open about six per host). Each record is
 *
 *   u32 length (of what follows) · u8 kind · kind's body
 *   hello (1) / gone (3): JSON — {conn} once at the start; {id, reason} when a tile is not (or no longer) served
 *   frame (2): u8 flags (1: placeholder) · u8 id length · id (UTF-8) · f64 capture time (epoch ms) · u32 seq · JPEG
 *   ping  (4): nothing, sent when the connection was quiet for a while, so the page can tell a dead connection
 *
 * Every tile is a viewer of its endpoint (it counts for demand and limits and gets placeholders and repeats like
 * any viewer) whose parts land here. The connection holds at most one unsent frame per tile, newer replacing
 * older, and writes them oldest-waiting first while it has room: a slow connection drops frames tile by tile and
 * never queues more than one of each, and no tile waits behind another's backlog.
 */
export const RECORD_HELLO = 1;
export const RECORD_FRAME = 2;
export const RECORD_GONE = 3;
export const RECORD_PING = 4;
export const FLAG_PLACEHOLDER = 1;

/** What the page asks for one tile. */
export interface TileRequest extends ViewerRequest {
  id: string;
}

/** The response the records go to: a real http.ServerResponse in production and tests. */
export interface MuxOut {
  write(chunk: Buffer): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  end(): unknown;
  destroy(): unknown;
  on(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

export interface FrameMuxOptions {
  /** The endpoint serving a tile id now (the directory), or undefined. */
  resolve: (id: string) => MjpegEndpoint | undefined;
  /** The client's address, for the endpoints' per-address limits. */
  address?: string;
  /** The connection's ports: with them the kernel's send queue is read too (Linux), not only Node's buffer. */
  ports?: { local: number; remote: number };
  /** Node's buffer may hold this much before frames wait. */
  highWaterBytes?: number;
  /** Bytes the client has not acknowledged beyond which frames wait. */
  kernelLimitBytes?: number;
  /** A connection that took nothing for this long while frames waited is closed. */
  stallTimeoutMs?: number;
  /** A ping after this long without a record. */
  pingMs?: number;
  /** Most tiles one connection may ask for. */
  maxTiles?: number;
}

const RECHECK_MS = 50;

function jsonRecord(kind: number, value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32BE(1 + body.length, 0);
  out[4] = kind;
  body.copy(out, 5);
  return out;
}

/** One tile: the sink its endpoint's viewer writes to, and its one waiting frame. */
class Tile extends EventEmitter implements ViewerSink {
  readonly writableLength = 0;
  pending: Part | undefined;
  sent = 0;
  dropped = 0;
  viewer: Viewer | undefined;
  readonly idBytes: Buffer;

  constructor(
    readonly mux: FrameMux,
    readonly req: TileRequest,
    readonly endpoint: MjpegEndpoint,
  ) {
    super();
    this.idBytes = Buffer.from(req.id, 'utf8');
  }

  /** Every part is taken: the connection keeps the newest per tile (see FrameMux). */
  write(): boolean {
    return true;
  }

  /** The endpoint let the viewer go (closed, or evicted to make room). */
  end(): void {
    this.mux.tileLost(this, 'closed');
  }

  destroy(): void {
    this.mux.tileLost(this, 'evicted');
  }

  progress(): TakeSample {
    return { delivered: this.sent, dropped: this.dropped, behind: false };
  }
}

export class FrameMux extends EventEmitter<{ close: [] }> {
  readonly id = randomBytes(12).toString('base64url');
  /** Frames and bytes written, for tests and diagnostics. */
  framesOut = 0;
  bytesOut = 0;
  private readonly tiles = new Map<string, Tile>();
  /** Tiles with a frame waiting, in the order they began to wait. */
  private readonly waiting = new Map<string, Tile>();
  private requests: TileRequest[] = [];
  /** Ids the page was told are not served, so a later directory change does not tell it again. */
  private readonly told = new Set<string>();
  private readonly hwm: number;
  private readonly kernelLimit: number;
  private readonly stallTimeoutMs: number;
  private readonly maxTiles: number;
  private readonly tcpKey: string | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private readonly pingTimer: NodeJS.Timeout;
  private blockedSince: number | undefined;
  private lastWriteAt = performance.now();
  private closed = false;

  constructor(
    private readonly out: MuxOut,
    private readonly opts: FrameMuxOptions,
  ) {
    super();
    this.hwm = opts.highWaterBytes ?? 64 * 1024;
    this.kernelLimit = opts.kernelLimitBytes ?? 256 * 1024;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 30_000;
    this.maxTiles = opts.maxTiles ?? 64;
    this.tcpKey = opts.ports ? `${opts.ports.local}/${opts.ports.remote}` : undefined;
    out.on('drain', this.pump);
    out.on('close', this.onClose);
    out.on('error', this.onClose);
    const pingMs = opts.pingMs ?? 5000;
    this.pingTimer = setInterval(() => this.tick(pingMs), Math.min(pingMs, 1000));
    this.pingTimer.unref?.();
    this.writeRecord(jsonRecord(RECORD_HELLO, { conn: this.id }));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes written to the response that Node still holds (not yet taken by the kernel). */
  get bufferedBytes(): number {
    return this.out.writableLength;
  }

  /** Tile ids served now. */
  tileIds(): string[] {
    return [...this.tiles.keys()];
  }

  /** Per tile: frames written and frames replaced unsent (for tests and the page's diagnostics). */
  tileStats(id: string): { sent: number; dropped: number } | undefined {
    const t = this.tiles.get(id);
    return t ? { sent: t.sent, dropped: t.dropped } : undefined;
  }

  /**
   * The tiles the page wants now (visible ones, at their sizes). Tiles no longer wanted stop at once (their
   * endpoints lose a viewer); new ones start with the endpoint's latest picture.
   */
  set(requests: readonly TileRequest[]): void {
    if (this.closed) return;
    const seen = new Set<string>();
    this.requests = [];
    for (const r of requests) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      if (this.requests.length >= this.maxTiles) {
        this.gone(r.id, 'too-many-tiles');
        continue;
      }
      this.requests.push(r);
    }
    for (const [id, tile] of this.tiles) if (!seen.has(id)) this.detach(tile);
    this.refresh();
  }

  /** Matches tiles to the endpoints serving them now (after a deploy replaced or removed some). */
  refresh(): void {
    if (this.closed) return;
    for (const req of this.requests) {
      const endpoint = this.opts.resolve(req.id);
      const tile = this.tiles.get(req.id);
      if (tile && tile.endpoint === endpoint && sameRequest(tile.req, req)) continue;
      if (tile) this.detach(tile);
      if (!endpoint) {
        this.gone(req.id, tile ? 'removed' : 'unknown');
        continue;
      }
      this.told.delete(req.id);
      this.attach(req, endpoint);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.recheck);
    for (const tile of [...this.tiles.values()]) this.detach(tile);
    this.out.off('drain', this.pump);
    this.out.off('close', this.onClose);
    this.out.off('error', this.onClose);
    if (!this.out.destroyed) {
      if (this.out.writableLength > 0) this.out.destroy();
      else this.out.end();
    }
    this.emit('close');
  }

  /** The endpoint ended a tile's viewer (its node closed, or it made room for another viewer). */
  tileLost(tile: Tile, reason: 'closed' | 'evicted'): void {
    if (this.tiles.get(tile.req.id) !== tile) return;
    this.forget(tile);
    this.gone(tile.req.id, reason);
  }

  /** Tells the page once that a tile is not served, and why. */
  private gone(id: string, reason: string): void {
    if (this.closed || this.told.has(id)) return;
    this.told.add(id);
    this.writeRecord(jsonRecord(RECORD_GONE, { id, reason }));
  }

  private attach(req: TileRequest, endpoint: MjpegEndpoint): void {
    const tile = new Tile(this, req, endpoint);
    this.tiles.set(req.id, tile);
    const { id: _id, ...viewerReq } = req;
    const result = endpoint.attach(tile, viewerReq, {
      ...(this.opts.address !== undefined ? { address: this.opts.address } : {}),
      partSink: (part) => this.offer(tile, part),
      progress: () => tile.progress(),
    });
    if (typeof result === 'string') {
      this.forget(tile);
      this.gone(req.id, result === 'closed' ? 'removed' : 'too-many-viewers');
      return;
    }
    // The endpoint may have handed the first picture over before attach() returned.
    if (this.tiles.get(req.id) === tile) tile.viewer = result;
  }

  /** Stops a tile from our side: its viewer leaves its endpoint. */
  private detach(tile: Tile): void {
    this.forget(tile);
    tile.emit('close');
  }

  private forget(tile: Tile): void {
    if (this.tiles.get(tile.req.id) === tile) this.tiles.delete(tile.req.id);
    if (this.waiting.get(tile.req.id) === tile) this.waiting.delete(tile.req.id);
    tile.pending = undefined;
  }

  private offer(tile: Tile, part: Part): void {
    if (this.closed || this.tiles.get(tile.req.id) !== tile) return;
    if (tile.pending) tile.dropped++;
    tile.pending = part;
    // A tile already waiting keeps its place: the longest-waiting tile goes first.
    if (!this.waiting.has(tile.req.id)) this.waiting.set(tile.req.id, tile);
    if (this.blockedSince === undefined) this.pump();
  }

  private room(): boolean {
    if (this.out.writableLength >= this.hwm) return false;
    if (this.tcpKey === undefined) return true;
    // At most one read of the kernel's tables a second for every page (each costs the kernel milliseconds).
    const unacked = tcpSendQueues(1000)?.get(this.tcpKey);
    return unacked === undefined || unacked < this.kernelLimit;
  }

  private readonly pump = (): void => {
    if (this.closed) return;
    clearTimeout(this.recheck);
    this.recheck = undefined;
    for (const [id, tile] of this.waiting) {
      if (!this.room()) {
        this.blockedSince ??= performance.now();
        // Node's buffer empties with 'drain'; the kernel's queue is looked at again shortly.
        if (this.out.writableLength === 0) this.recheck = setTimeout(this.pump, RECHECK_MS);
        return;
      }
      this.waiting.delete(id);
      const part = tile.pending;
      tile.pending = undefined;
      if (part) this.writeFrame(tile, part);
    }
    this.blockedSince = undefined;
  };

  private writeFrame(tile: Tile, part: Part): void {
    const idLen = Math.min(255, tile.idBytes.length);
    const head = Buffer.allocUnsafe(4 + 1 + 1 + 1 + idLen + 8 + 4);
    let o = head.writeUInt32BE(head.length - 4 + part.jpeg.length, 0);
    o = head.writeUInt8(RECORD_FRAME, o);
    o = head.writeUInt8(part.placeholder ? FLAG_PLACEHOLDER : 0, o);
    o = head.writeUInt8(idLen, o);
    o += tile.idBytes.copy(head, o, 0, idLen);
    o = head.writeDoubleBE(part.time, o);
    head.writeUInt32BE(part.seq >>> 0, o);
    tile.sent++;
    this.framesOut++;
    this.writeRecord(head);
    this.writeRecord(part.jpeg);
  }

  private writeRecord(buf: Buffer): void {
    if (this.out.destroyed) return;
    this.bytesOut += buf.length;
    this.lastWriteAt = performance.now();
    this.out.write(buf);
  }

  private tick(pingMs: number): void {
    const t = performance.now();
    if (this.blockedSince !== undefined && t - this.blockedSince >= this.stallTimeoutMs) {
      this.close();
      return;
    }
    if (this.blockedSince === undefined && t - this.lastWriteAt >= pingMs) {
      const ping = Buffer.from([0, 0, 0, 1, RECORD_PING]);
      this.writeRecord(ping);
    }
  }

  private readonly onClose = (): void => this.close();
}

function sameRequest(a: TileRequest, b: TileRequest): boolean {
  return a.width === b.width && a.idleFps === b.idleFps && a.maxFps === b.maxFps;
}
