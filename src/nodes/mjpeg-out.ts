import type { IncomingMessage, ServerResponse } from 'node:http';
import { jpegView } from '../core/jpeg-info';
import { DEFAULT_MAX_PIXELS, MjpegEndpoint } from '../core/mjpeg-endpoint';
import { normalisePath, RouteTable, runChain, type RouteHandler } from '../core/route-table';
import { clampNumber, trimmed } from './config';
import { lifecycleOf, settingsHash } from './lifecycle';
import { poolHandleFor } from './pool-handle';
import type { Node, NodeDef, NodeRedRuntime, NodeStatus } from './red-types';
import { findStream } from './stream-ref';

interface HttpApp {
  use(fn: RouteHandler): void;
}
interface MjpegOutConfig {
  id: string;
  name?: string;
  path?: string;
  stillPath?: string;
  stream?: string;
  maxViewers?: string | number;
  maxPerAddress?: string | number;
  maxMegapixels?: string | number;
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

module.exports = function register(RED: NodeRedRuntime): void {
  function MjpegOutNode(this: Node, config: MjpegOutConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const streamPath = normalisePath(config.path);
    const stillPath = config.stillPath?.trim() ? normalisePath(config.stillPath) : undefined;
    const maxViewers = Math.round(clampNumber(config.maxViewers, 100, 1, 10000));
    const settings = {
      name: config.name || streamPath || 'mjpeg',
      streamPath,
      stillPath,
      maxViewers,
      maxPerAddress: Math.round(clampNumber(config.maxPerAddress, Math.min(10, maxViewers), 1, maxViewers)),
      maxPixels: Math.round(clampNumber(config.maxMegapixels, DEFAULT_MAX_PIXELS / 1e6, 0.01, 100) * 1e6),
      stallTimeoutMs: clampNumber(config.stallTimeout, 5, 1, 3600) * 1000,
      stillTimeoutMs: clampNumber(config.stillTimeout, 10, 0.1, 120) * 1000,
    };
    const label = settings.name;
    const ref = findStream(RED, config, trimmed(config.stream));
    const handle = ref ? poolHandleFor(RED, ref.poolId) : undefined;
    handle?.register(node);
    const stream = ref && handle ? handle.pool.stream(ref.name) : undefined;

    // Redeployed with the same settings, the open connections carry on with this node.
    const parkKey = `mjpeg:${node.id}`;
    const hash = settingsHash(settings);
    const endpoint =
      lifecycle.take<MjpegEndpoint>(parkKey, hash) ??
      new MjpegEndpoint({
        name: label,
        consumerId: node.id,
        maxViewers,
        maxPerAddress: settings.maxPerAddress,
        maxPixels: settings.maxPixels,
        stallTimeoutMs: settings.stallTimeoutMs,
        stillTimeoutMs: settings.stillTimeoutMs,
        onError: (err) => node.warn(`placeholder: ${err instanceof Error ? err.message : String(err)}`),
      });
    endpoint.setSource(stream);
    // The viewer page lists every endpoint of the runtime (src/nodes/viewer-page.ts).
    lifecycle.endpoints.add({ id: node.id, name: label, endpoint, path: streamPath });

    let routesProblem: string | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    let lastWritten = endpoint.hub.partsWritten;
    let lastAt = performance.now();
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
      const fps = viewers > 0 && t > lastAt ? (written - lastWritten) / viewers / ((t - lastAt) / 1000) : 0;
      lastWritten = written;
      lastAt = t;
      if (viewers === 0) return setStatus({ fill: 'green', shape: 'ring', text: '0 viewers' });
      setStatus({
        fill: endpoint.framesIn > 0 ? 'green' : 'yellow',
        shape: endpoint.framesIn > 0 ? 'dot' : 'ring',
        text: `${viewers} viewer${viewers === 1 ? '' : 's'} · ${fps.toFixed(1)} fps`,
      });
    };

    const onViewers = (n: number): void => {
      if (n > 0 && !statusTimer) {
        lastAt = performance.now();
        lastWritten = endpoint.hub.partsWritten;
        statusTimer = setInterval(updateStatus, STATUS_PERIOD_MS);
      } else if (n === 0 && statusTimer) {
        clearInterval(statusTimer);
        statusTimer = undefined;
      }
      updateStatus();
    };
    endpoint.on('viewers', onViewers);

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
    const report = (done: (err?: Error) => void, err: Error): void => {
      badInputs++;
      const t = performance.now();
      // One report per period: a misconfigured flow at 10 fps would otherwise flood the log.
      if (t - badReportedAt >= BAD_INPUT_REPORT_MS) {
        badReportedAt = t;
        done(new Error(`${err.message} (${badInputs} dropped so far)`));
        return;
      }
      done();
    };
    node.on('input', (msg, _send, done) => {
      const f = msg.frame as { seq?: unknown; time?: unknown; jpeg?: unknown } | undefined;
      // A source message that carries only gray frames (no viewer needed a JPEG of that frame).
      if (f?.jpeg === false && msg.payload === undefined) return done();
      const jpeg = jpegView(msg.payload);
      if (!jpeg) {
        const what = Buffer.isBuffer(msg.payload) ? `a ${msg.payload.length}-byte Buffer that is not a complete JPEG` : typeof msg.payload;
        return report(done, new Error(`msg.payload must be a JPEG Buffer (FF D8 ... FF D9), got ${what}`));
      }
      const seq = f && typeof f.seq === 'number' ? f.seq : undefined;
      const time = f && typeof f.time === 'number' ? f.time : undefined;
      const thumbs = msg.thumbs && typeof msg.thumbs === 'object' ? (msg.thumbs as Record<string, Buffer>) : undefined;
      const refused = endpoint.frame(jpeg, seq, time, thumbs);
      if (refused) return report(done, refused);
      done();
    });

    node.on('close', (removed, done) => {
      if (statusTimer) clearInterval(statusTimer);
      statusTimer = undefined;
      endpoint.off('viewers', onViewers);
      const release = (): void => {
        if (table) for (const p of claimed) table.release(p, node.id);
      };
      if (removed || lifecycle.stopping || routesProblem) {
        release();
        lifecycle.endpoints.remove(node.id, endpoint);
        endpoint.close('now');
      } else {
        // The routes stay claimed under this node id, so requests meanwhile still reach the endpoint.
        endpoint.setSource(stream, 'handover');
        lifecycle.park(parkKey, hash, endpoint, () => {
          release();
          lifecycle.endpoints.remove(node.id, endpoint);
          endpoint.close('grace');
        });
      }
      node.status({});
      if (handle) handle.deregister(node, done, removed);
      else done();
    });

    // Exposed for tests and diagnostics: counts of viewers, timers and listeners.
    (node as Node & { endpoint?: MjpegEndpoint }).endpoint = endpoint;
  }

  RED.nodes.registerType(NODE_TYPE, MjpegOutNode);
};
