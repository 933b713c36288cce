import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { normalisePath } from '../core/serve/route-table';
import { ViewerServer } from '../core/page/viewer-server';
import { readNumber } from './config';
import { nodeRoutes } from './http-routes';
import { lifecycleOf } from './lifecycle';
import type { NodeRedRuntime } from './red-types';

/**
 * The viewer page: every mjpeg-out endpoint of the runtime on one page, at `glimpser.viewerPath` of settings.js
 * (default /glimpser/, below httpNodeRoot). A node set of its own with no node type: the page belongs to the
 * runtime, not to one node, and the user can switch it off with `glimpser: { viewerPath: false }` (or by disabling
 * this node set through Node-RED's admin API; the palette manager lists only sets with node types).
 */
interface GlimpserSettings {
  /** Path of the page below httpNodeRoot; false: no page. */
  viewerPath?: string | false;
  /** Frames per second of a motion-aware tile while its stream sees no motion (the page's default). */
  idleFps?: number;
}

const DEFAULT_PATH = '/glimpser';
/** Strings of the page, translated by the runtime's catalog (nodes/locales/<lang>/viewer-page.json). */
const PAGE_KEYS = [
  'title', 'smooth', 'smoothHint', 'smoothShort', 'motionAware', 'motionAwareHint', 'motionAwareShort', 'noCameras', 'connecting', 'reconnecting', 'close',
  'fps', 'motion', 'placeholder', 'zoomHint',
  'state.idle', 'state.starting', 'state.healthy', 'state.degraded', 'state.recovering', 'state.failed',
  'gone.removed', 'gone.unknown', 'gone.closed', 'gone.evicted', 'gone.too-many-viewers', 'gone.too-many-tiles',
];

/** One page per express app: each Node-RED start (and each test helper load) has its own httpNode. */
const mounted = new WeakMap<object, ViewerServer>();

/** The path a settings value names, or undefined when it is not a plain path. */
function viewerPathOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return DEFAULT_PATH;
  return normalisePath(value);
}

const IDLE_FPS = { min: 0.25, max: 60, fallback: 2 };

function register(RED: NodeRedRuntime): void {
  const routes = nodeRoutes(RED);
  if (!routes || mounted.has(RED.httpNode)) return;
  const settings = (RED.settings.glimpser ?? {}) as GlimpserSettings;
  if (settings.viewerPath === false) {
    RED.log.info(RED._('viewer-page.log.off'));
    return;
  }
  const viewerPath = viewerPathOf(settings.viewerPath);
  if (!viewerPath || viewerPath === '/') {
    RED.log.warn(RED._('viewer-page.errors.badPath', { path: JSON.stringify(settings.viewerPath) }));
    return;
  }
  let idleFps = readNumber(settings.idleFps, IDLE_FPS);
  if (idleFps === undefined) {
    RED.log.warn(RED._('viewer-page.errors.badIdleFps', { value: JSON.stringify(settings.idleFps) }));
    idleFps = IDLE_FPS.fallback;
  }
  const strings: Record<string, string> = {};
  // `{n}` is filled in by the page (a frame rate).
  for (const key of PAGE_KEYS) strings[key] = RED._(`viewer-page.page.${key}`, { n: '{n}' });
  const server = new ViewerServer({
    directory: lifecycleOf(RED).endpoints,
    assetsDir: join(__dirname, '..', '..', 'viewer'),
    pageConfig: { idleFps, strings },
  });
  mounted.set(RED.httpNode, server);

  const base = viewerPath.slice(viewerPath.lastIndexOf('/') + 1);
  const page = (sub: string, next: (err?: unknown) => void) => (req: IncomingMessage, res: ServerResponse): void => {
    // A CORS preflight the cors middleware let through: nothing more to say.
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    server.handle(sub, req, res, next);
  };

  RED.httpNode.use((req: IncomingMessage & { path?: string }, res: ServerResponse, next: (err?: unknown) => void) => {
    // express sets req.path relative to where the app is mounted (httpNodeRoot).
    const p = typeof req.path === 'string' ? req.path : (req.url ?? '/').split('?')[0]!;
    if (p === viewerPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      // Relative, so it holds below any httpNodeRoot or reverse-proxy prefix.
      const q = req.url?.indexOf('?') ?? -1;
      res.writeHead(301, { Location: `${base}/${q >= 0 ? req.url!.slice(q) : ''}`, 'Content-Length': '0' });
      res.end();
      return;
    }
    if (!p.startsWith(`${viewerPath}/`)) return next();
    // The page's own paths, through the user's middleware and CORS as every route of ours.
    routes.route(page(p.slice(viewerPath.length + 1), next))(req, res, next);
  });
  const root = typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot.replace(/\/$/, '') : '';
  RED.log.info(RED._('viewer-page.log.serving', { path: `${root}${viewerPath}/` }));
}

/** The page served on an httpNode app, for tests and diagnostics. */
register.serverFor = (httpNode: object): ViewerServer | undefined => mounted.get(httpNode);

export = register;
