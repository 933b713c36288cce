import type { IncomingMessage, ServerResponse } from 'node:http';
import { RouteTable, runChain, type RouteHandler } from '../core/serve/route-table';
import type { NodeRedRuntime } from './red-types';

interface HttpApp {
  use(fn: RouteHandler): void;
}

/** One route table per express app: each test helper load and each Node-RED start has its own httpNode. */
const tables = new WeakMap<object, RouteTable>();

/**
 * The routes our nodes serve on `RED.httpNode` (mjpeg-out's streams, the metrics and health endpoints), as the
 * http-in node serves its own: after Node-RED's `httpNodeAuth` (which it puts in front of httpNode), through
 * `httpNodeMiddleware` and `httpNodeCors`. Undefined when HTTP nodes are off (`httpNodeRoot: false`).
 */
export interface NodeRoutes {
  readonly table: RouteTable;
  /** A route handler that runs the user's middleware and CORS, then `serve`. */
  route(serve: (req: IncomingMessage, res: ServerResponse) => void): RouteHandler;
}

export function nodeRoutes(RED: NodeRedRuntime): NodeRoutes | undefined {
  if (RED.settings.httpNodeRoot === false || !RED.httpNode) return undefined;
  const userMw = RED.settings.httpNodeMiddleware;
  const chain: RouteHandler[] = [...(typeof userMw === 'function' ? [userMw] : Array.isArray(userMw) ? userMw : [])];
  const cors = corsHandler(RED.settings);
  if (cors) chain.push(cors);
  return {
    table: tableFor(RED.httpNode as HttpApp),
    route: (serve) => (req, res, next) => runChain(chain, req, res, next, () => serve(req, res)),
  };
}

/**
 * The client's address as the httpNode app sees it: Express's `req.ip`, which is the socket's peer unless Node-RED's
 * `httpServerOptions` set `trust proxy` (applied to httpNode), when it is the client named by X-Forwarded-For as far
 * as the trusted proxies go. Undefined outside Express: the endpoint then takes the socket's peer.
 */
export function clientAddress(req: IncomingMessage): string | undefined {
  const ip = (req as IncomingMessage & { ip?: unknown }).ip;
  return typeof ip === 'string' && ip !== '' ? ip : undefined;
}

function tableFor(app: HttpApp): RouteTable {
  let table = tables.get(app);
  if (!table) {
    table = new RouteTable();
    app.use(table.middleware);
    tables.set(app, table);
  }
  return table;
}

/** CORS as the http-in node applies it, from Node-RED's own copy of the `cors` package. */
function corsHandler(settings: NodeRedRuntime['settings']): RouteHandler | undefined {
  if (!settings.httpNodeCors) return undefined;
  const candidates = [() => require('cors'), () => require.main?.require('cors')];
  for (const load of candidates) {
    try {
      const cors = load() as ((opts: unknown) => RouteHandler) | undefined;
      if (typeof cors === 'function') return cors(settings.httpNodeCors);
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/**
 * The node holding a path, as its user knows it: its kind and name from the palette ('mjpeg out "front"'), or
 * 'another metrics' when it has no name; never its id.
 */
export function ownerName(RED: NodeRedRuntime, id: string): string {
  const owner = RED.nodes.getNode(id) as { name?: unknown; type?: unknown } | null;
  const kind = RED._(owner?.type === 'glimpser-metrics' ? 'metrics.label.palette' : 'mjpeg-out.label.palette');
  const name = typeof owner?.name === 'string' ? owner.name.trim() : '';
  return name ? `${kind} "${name}"` : RED._('mjpeg-out.errors.anotherNode', { kind });
}
