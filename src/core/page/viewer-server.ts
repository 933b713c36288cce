import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { DirectoryEntry, EndpointDirectory } from './endpoint-directory';
import { FrameMux, type FrameMuxOptions, type TileRequest } from './frame-mux';
import type { StreamState } from '../types';

/**
 * The viewer page's HTTP side, below a path the caller mounts it at (src/nodes/viewer-page.ts): the page and its
 * scripts, the control channel (Server-Sent Events: the tile list, each tile's state and motion) and the picture
 * channel (one FrameMux per page), plus the page's requests to change which tiles it wants. Plain HTTP requests
 * on Node-RED's own server, so httpNodeAuth, httpNodeMiddleware and CORS apply to all of it as to `http in`.
 * A page needs two long connections whatever the number of tiles.
 */
export interface ViewerServerOptions {
  directory: EndpointDirectory;
  /** Folder holding the page (index.html) and its assets. */
  assetsDir: string;
  /** Settings and translated strings, given to the page in index.html. */
  pageConfig: Record<string, unknown>;
  mux?: Omit<FrameMuxOptions, 'resolve' | 'address' | 'ports'>;
  /** Most open picture connections and control connections, each. */
  maxConnections?: number;
  /** Tile states are looked at this often besides their streams' own state events (endpoints fed by other nodes). */
  stateCheckMs?: number;
  /** A comment on the control channel this often, so proxies keep it open. */
  keepaliveMs?: number;
}

export interface TileInfo {
  id: string;
  name: string;
  state: TileState;
  reason?: string;
  motion?: boolean;
}

/** A stream's state, or for an endpoint fed by other nodes: 'healthy' while frames arrive, else 'idle'. */
export type TileState = StreamState;

const ASSETS: Record<string, string> = {
  'viewer.css': 'text/css; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
  'worker.js': 'text/javascript; charset=utf-8',
  'render.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};
const CONFIG_MARK = '<!--GLIMPSER_CONFIG-->';
const MAX_BODY = 16 * 1024;
const CSP = "default-src 'self'; img-src 'self' blob: data:; worker-src 'self'; connect-src 'self'; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'self'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` };
}

function tileInfo(e: DirectoryEntry): TileInfo {
  const { state, reason } = e.endpoint.stateInfo;
  const info: TileInfo = { id: e.id, name: e.name, state: state ?? (e.endpoint.fresh ? 'healthy' : 'idle') };
  if (reason) info.reason = reason;
  const motion = e.endpoint.motion;
  if (motion !== undefined) info.motion = motion;
  return info;
}

function sameTile(a: TileInfo | undefined, b: TileInfo): boolean {
  return !!a && a.state === b.state && a.reason === b.reason && a.motion === b.motion && a.name === b.name;
}

/** Request body of a tile subscription, checked field by field; undefined when it is not one. */
export function parseSubscription(value: unknown): { conn: string; tiles: TileRequest[] } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { conn, tiles } = value as { conn?: unknown; tiles?: unknown };
  if (typeof conn !== 'string' || conn.length > 64 || !Array.isArray(tiles) || tiles.length > 256) return undefined;
  const out: TileRequest[] = [];
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  for (const t of tiles) {
    if (!t || typeof t !== 'object') return undefined;
    const { id, width, idleFps, maxFps } = t as Record<string, unknown>;
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) return undefined;
    const req: TileRequest = { id };
    const w = num(width);
    const idle = num(idleFps);
    const cap = num(maxFps);
    if (w !== undefined) req.width = Math.round(w);
    if (idle !== undefined) req.idleFps = idle;
    if (cap !== undefined) req.maxFps = cap;
    out.push(req);
  }
  return { conn, tiles: out };
}

export class ViewerServer {
  private readonly page: Asset;
  private readonly assets = new Map<string, Asset>();
  private readonly muxes = new Map<string, FrameMux>();
  private readonly events = new Set<ServerResponse>();
  private readonly maxConnections: number;
  /** What the control channels were last told of each tile. */
  private tiles = new Map<string, TileInfo>();
  /** Endpoints whose state and motion events we listen to, with the listener. */
  private readonly watched = new Map<DirectoryEntry['endpoint'], () => void>();
  /** Timers that run only while a page is connected. */
  private checkTimer: NodeJS.Timeout | undefined;
  private keepTimer: NodeJS.Timeout | undefined;
  private listChanged: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: ViewerServerOptions) {
    this.maxConnections = opts.maxConnections ?? 100;
    const config = JSON.stringify(opts.pageConfig).replace(/</g, '\\u003c');
    const html = readFileSync(join(opts.assetsDir, 'index.html'), 'utf8').replace(
      CONFIG_MARK,
      `<script type="application/json" id="glimpser-config">${config}</script>`,
    );
    this.page = asset(Buffer.from(html, 'utf8'), 'text/html; charset=utf-8');
    for (const [name, type] of Object.entries(ASSETS)) this.assets.set(name, asset(readFileSync(join(opts.assetsDir, name)), type));
    opts.directory.on('change', this.onDirectory);
    this.watchEndpoints();
    this.tiles = new Map(opts.directory.list().map((e) => [e.id, tileInfo(e)]));
  }

  /** Runs the state check and keepalive while any page is connected, and nothing otherwise. */
  private armTimers(): void {
    const busy = !this.closed && (this.events.size > 0 || this.muxes.size > 0);
    if (busy && !this.checkTimer) {
      this.checkTimer = setInterval(this.checkStates, this.opts.stateCheckMs ?? 1000);
      this.checkTimer.unref?.();
      this.keepTimer = setInterval(() => this.broadcast(': keepalive\n\n'), this.opts.keepaliveMs ?? 15_000);
      this.keepTimer.unref?.();
    } else if (!busy && this.checkTimer) {
      clearInterval(this.checkTimer);
      clearInterval(this.keepTimer);
      this.checkTimer = this.keepTimer = undefined;
    }
  }

  /** Whether timers run (for leak checks). */
  get timersRunning(): boolean {
    return this.checkTimer !== undefined;
  }

  /** Open picture connections, by connection id (tests and diagnostics). */
  connections(): FrameMux[] {
    return [...this.muxes.values()];
  }

  get controlConnections(): number {
    return this.events.size;
  }

  /** Serves `sub` (the request's path below the viewer path, without a leading '/'); anything else goes to next(). */
  handle(sub: string, req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const method = req.method ?? 'GET';
    if (sub === '' || sub === 'index.html') return this.serveAsset(req, res, this.page, true);
    const a = this.assets.get(sub);
    if (a) return this.serveAsset(req, res, a, false);
    if (sub === 'api/events' && (method === 'GET' || method === 'HEAD')) return this.serveEvents(req, res);
    if (sub === 'api/frames' && (method === 'GET' || method === 'HEAD')) return this.serveFrames(req, res);
    if (sub === 'api/tiles' && (method === 'GET' || method === 'HEAD')) return this.json(res, 200, this.tileList(), method === 'HEAD');
    if (sub === 'api/subscribe') {
      if (method === 'POST') return this.serveSubscribe(req, res);
      return this.json(res, 405, { error: 'POST a subscription' }, false, { Allow: 'POST' });
    }
    next();
  }

  /** Ends every page connection (the runtime stops). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.armTimers();
    clearTimeout(this.listChanged);
    this.opts.directory.off('change', this.onDirectory);
    for (const [endpoint, fn] of this.watched) {
      endpoint.off('state', fn);
      endpoint.off('motion', fn);
    }
    this.watched.clear();
    for (const mux of [...this.muxes.values()]) mux.close();
    for (const res of [...this.events]) res.end();
    this.events.clear();
  }

  // --- control channel --------------------------------------------------------------------------

  private tileList(): TileInfo[] {
    return this.opts.directory.list().map(tileInfo);
  }

  private serveEvents(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed || this.events.size >= this.maxConnections) return this.json(res, 503, { error: 'too many connections' }, false, { 'Retry-After': '5' });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-store',
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.socket?.setNoDelay(true);
    res.write(`retry: 2000\n\n${this.event('tiles', this.tileList())}`);
    this.events.add(res);
    this.armTimers();
    const drop = (): void => {
      this.events.delete(res);
      this.armTimers();
    };
    res.on('close', drop);
    res.on('error', drop);
  }

  private event(name: string, data: unknown): string {
    return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private broadcast(text: string): void {
    for (const res of this.events) {
      // A control channel that does not take a few KiB of text is gone or hopeless: it reconnects by itself.
      if (res.writableLength > 256 * 1024) res.destroy();
      else res.write(text);
    }
  }

  private readonly onDirectory = (): void => {
    this.watchEndpoints();
    for (const mux of this.muxes.values()) mux.refresh();
    // A deploy changes many entries at once: one list for all of them.
    this.listChanged ??= setTimeout(() => {
      this.listChanged = undefined;
      if (this.closed) return;
      const list = this.tileList();
      this.tiles = new Map(list.map((t) => [t.id, t]));
      this.broadcast(this.event('tiles', list));
    }, 50);
  };

  private watchEndpoints(): void {
    const live = new Set(this.opts.directory.list().map((e) => e.endpoint));
    for (const [endpoint, fn] of this.watched) {
      if (live.has(endpoint)) continue;
      endpoint.off('state', fn);
      endpoint.off('motion', fn);
      this.watched.delete(endpoint);
    }
    for (const endpoint of live) {
      if (this.watched.has(endpoint)) continue;
      const fn = (): void => this.checkStates();
      endpoint.on('state', fn);
      endpoint.on('motion', fn);
      this.watched.set(endpoint, fn);
    }
  }

  /** Sends each tile whose state, reason or motion changed since the control channels last heard of it. */
  private readonly checkStates = (): void => {
    if (this.closed) return;
    for (const e of this.opts.directory.list()) {
      const info = tileInfo(e);
      if (sameTile(this.tiles.get(e.id), info)) continue;
      this.tiles.set(e.id, info);
      this.broadcast(this.event('tile', info));
    }
  };

  // --- picture channel --------------------------------------------------------------------------

  private serveFrames(req: IncomingMessage, res: ServerResponse): void {
    const socket = res.socket;
    if (!socket || socket.destroyed || req.destroyed) return;
    if (this.closed || this.muxes.size >= this.maxConnections) return this.json(res, 503, { error: 'too many connections' }, false, { 'Retry-After': '5' });
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': 'no-cache, no-store',
      'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    socket.setNoDelay(true);
    res.flushHeaders();
    const ports = socket.localPort !== undefined && socket.remotePort !== undefined ? { local: socket.localPort, remote: socket.remotePort } : undefined;
    const mux = new FrameMux(res, {
      ...this.opts.mux,
      resolve: (id) => this.opts.directory.get(id)?.endpoint,
      address: socket.remoteAddress ?? '',
      ...(ports ? { ports } : {}),
    });
    this.muxes.set(mux.id, mux);
    this.armTimers();
    mux.once('close', () => {
      this.muxes.delete(mux.id);
      this.armTimers();
    });
  }

  private serveSubscribe(req: IncomingMessage & { body?: unknown; _body?: boolean }, res: ServerResponse): void {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) return this.json(res, 415, { error: 'send application/json' }, false);
    const apply = (body: unknown): void => {
      const sub = parseSubscription(body);
      if (!sub) return this.json(res, 400, { error: 'expected {conn, tiles: [{id, width?, idleFps?, maxFps?}]}' }, false);
      const mux = this.muxes.get(sub.conn);
      // The picture connection is gone (the server restarted, or it was closed): the page opens a new one.
      if (!mux) return this.json(res, 404, { error: 'no such connection' }, false);
      mux.set(sub.tiles);
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      res.end();
    };
    // A JSON body parser ran before us (Node-RED's admin app, mounted at '/', parses every JSON request that
    // passes through it; an httpNodeMiddleware may too): the body is read already.
    if (req._body) {
      if (JSON.stringify(req.body ?? null).length > MAX_BODY) return this.json(res, 413, { error: 'subscription too large' }, false);
      return apply(req.body);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooBig) return this.json(res, 413, { error: 'subscription too large' }, false);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return this.json(res, 400, { error: 'not JSON' }, false);
      }
      apply(body);
    });
  }

  // --- plain responses --------------------------------------------------------------------------

  private serveAsset(req: IncomingMessage, res: ServerResponse, a: Asset, page: boolean): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.json(res, 405, { error: 'GET only' }, false, { Allow: 'GET, HEAD' });
    const headers: Record<string, string> = {
      'Content-Type': a.type,
      // Revalidated every time: a new package version is picked up without a stale cache.
      'Cache-Control': 'no-cache',
      ETag: a.etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (page) {
      headers['Content-Security-Policy'] = CSP;
      headers['Referrer-Policy'] = 'no-referrer';
    }
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers['Content-Length'] = String(a.body.length);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(a.body);
  }

  private json(res: ServerResponse, status: number, value: unknown, head: boolean, extra: Record<string, string> = {}): void {
    const body = Buffer.from(JSON.stringify(value), 'utf8');
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length), 'Cache-Control': 'no-store', ...extra });
    if (head) res.end();
    else res.end(body);
  }
}
