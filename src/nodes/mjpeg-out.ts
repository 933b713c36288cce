import type { IncomingMessage, ServerResponse } from 'node:http';
import { jpegView } from '../core/jpeg-info';
import { MjpegEndpoint } from '../core/mjpeg-endpoint';
import { normalisePath, RouteTable, runChain, type RouteHandler } from '../core/route-table';
import { sourceRegistry } from '../core/source-registry';
import { clampNumber } from './config';
import type { Node, NodeDef, NodeRedRuntime, NodeStatus } from './red-types';

interface HttpApp {
  use(fn: RouteHandler): void;
}
interface MjpegOutConfig {
  id: string;
  name?: string;
  path?: string;
  stillPath?: string;
  maxViewers?: string | number;
  stallTimeout?: string | number;
  stillTimeout?: string | number;
}

const NODE_TYPE = 'glimpser-mjpeg-out';
const STATUS_PERIOD_MS = 2000;
const BAD_INPUT_REPORT_MS = 10000;

/** One route table per express app: each test helper load and each Node-RED start has its own httpNode. */
const tables = new WeakMap<object, RouteTable>();

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

function upstreamIds(RED: NodeRedRuntime, id: string): string[] {
  const ids: string[] = [];
  RED.nodes.eachNode((n) => {
    if (Array.isArray(n.wires) && n.wires.some((port) => Array.isArray(port) && port.includes(id))) ids.push(n.id);
  });
  return ids;
}

module.exports = function register(RED: NodeRedRuntime): void {
  function MjpegOutNode(this: Node, config: MjpegOutConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const streamPath = normalisePath(config.path);
    const stillPath = config.stillPath?.trim() ? normalisePath(config.stillPath) : undefined;
    const maxViewers = Math.round(clampNumber(config.maxViewers, 100, 1, 10000));
    const stallTimeoutMs = clampNumber(config.stallTimeout, 30, 1, 3600) * 1000;
    const stillTimeoutMs = clampNumber(config.stillTimeout, 10, 0.1, 120) * 1000;
    const label = config.name || streamPath || 'mjpeg';

    const endpoint = new MjpegEndpoint({
      name: label,
      consumerId: node.id,
      sourceIds: upstreamIds(RED, node.id),
      registry: sourceRegistry,
      maxViewers,
      stallTimeoutMs,
      stillTimeoutMs,
      onError: (err) => node.warn(`placeholder: ${err instanceof Error ? err.message : String(err)}`),
    });

    let routesProblem: string | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    let lastWritten = 0;
    let lastAt = 0;
    let lastText = '';

    const setStatus = (s: NodeStatus): void => {
      const key = `${s.fill}|${s.shape}|${s.text}`;
      if (key === lastText) return;
      lastText = key;
      node.status(s);
    };

    const updateStatus = (): void => {
      if (routesProblem) return setStatus({ fill: 'red', shape: 'ring', text: routesProblem });
      const viewers = endpoint.viewers;
      const t = performance.now();
      const written = endpoint.hub.partsWritten;
      const fps = viewers > 0 && lastAt > 0 ? (written - lastWritten) / viewers / ((t - lastAt) / 1000) : 0;
      lastWritten = written;
      lastAt = t;
      if (viewers === 0) return setStatus({ fill: 'green', shape: 'ring', text: '0 viewers' });
      setStatus({
        fill: endpoint.framesIn > 0 ? 'green' : 'yellow',
        shape: endpoint.framesIn > 0 ? 'dot' : 'ring',
        text: `${viewers} viewer${viewers === 1 ? '' : 's'} · ${fps.toFixed(1)} fps`,
      });
    };

    endpoint.on('viewers', (n: number) => {
      if (n > 0 && !statusTimer) {
        lastAt = performance.now();
        lastWritten = endpoint.hub.partsWritten;
        statusTimer = setInterval(updateStatus, STATUS_PERIOD_MS);
      } else if (n === 0 && statusTimer) {
        clearInterval(statusTimer);
        statusTimer = undefined;
      }
      updateStatus();
    });

    const claimed: string[] = [];
    let table: RouteTable | undefined;
    if (RED.settings.httpNodeRoot === false || !RED.httpNode) {
      routesProblem = 'HTTP nodes disabled';
      node.warn('httpNodeRoot is false: no HTTP endpoints are served');
    } else if (!streamPath) {
      routesProblem = 'invalid stream path';
      node.error(`invalid stream path ${JSON.stringify(config.path ?? '')}: use a path such as /glimpser/front.mjpg`);
    } else if (config.stillPath?.trim() && !stillPath) {
      routesProblem = 'invalid still path';
      node.error(`invalid still path ${JSON.stringify(config.stillPath)}: use a path such as /glimpser/front.jpg`);
    } else if (stillPath === streamPath) {
      routesProblem = 'still path = stream path';
      node.error(`still path and stream path are both ${streamPath}`);
    } else {
      const userMw = RED.settings.httpNodeMiddleware;
      const chain: RouteHandler[] = [
        ...(typeof userMw === 'function' ? [userMw] : Array.isArray(userMw) ? userMw : []),
      ];
      const cors = corsHandler(RED.settings);
      if (cors) chain.push(cors);
      const route =
        (serve: (req: IncomingMessage, res: ServerResponse) => void): RouteHandler =>
        (req, res, next) =>
          runChain(chain, req, res, next, () => serve(req, res));
      table = tableFor(RED.httpNode);
      try {
        table.claim(streamPath, node.id, route((req, res) => endpoint.serveStream(req, res)));
        claimed.push(streamPath);
        if (stillPath) {
          table.claim(stillPath, node.id, route((req, res) => endpoint.serveStill(req, res)));
          claimed.push(stillPath);
        }
      } catch (err) {
        for (const p of claimed.splice(0)) table.release(p, node.id);
        routesProblem = 'path in use';
        node.error(`${err instanceof Error ? err.message : String(err)}; this node serves nothing until its path is changed`);
      }
    }
    updateStatus();

    let badInputs = 0;
    let badReportedAt = -Infinity;
    node.on('input', (msg, _send, done) => {
      const jpeg = jpegView(msg.payload);
      if (!jpeg) {
        badInputs++;
        const t = performance.now();
        // One report per period: a misconfigured flow at 10 fps would otherwise flood the log.
        if (t - badReportedAt >= BAD_INPUT_REPORT_MS) {
          badReportedAt = t;
          const what = Buffer.isBuffer(msg.payload) ? `a ${msg.payload.length}-byte Buffer that is not a complete JPEG` : typeof msg.payload;
          done(new Error(`msg.payload must be a JPEG Buffer (FF D8 ... FF D9), got ${what}; dropped (${badInputs} so far)`));
          return;
        }
        done();
        return;
      }
      const f = msg.frame as { seq?: unknown; time?: unknown } | undefined;
      const seq = f && typeof f.seq === 'number' ? f.seq : undefined;
      const time = f && typeof f.time === 'number' ? f.time : undefined;
      endpoint.frame(jpeg, seq, time);
      done();
    });

    node.on('close', (_removed, done) => {
      if (statusTimer) clearInterval(statusTimer);
      statusTimer = undefined;
      if (table) for (const p of claimed) table.release(p, node.id);
      endpoint.close();
      node.status({});
      done();
    });

    // Exposed for tests and diagnostics: counts of viewers, timers and listeners.
    (node as Node & { endpoint?: MjpegEndpoint }).endpoint = endpoint;
  }

  RED.nodes.registerType(NODE_TYPE, MjpegOutNode);
};
