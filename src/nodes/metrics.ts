import type { IncomingMessage, ServerResponse } from 'node:http';
import { PathInUseError } from '../core/serve/route-table';
import { healthReport, NO_USAGE, sampleStreams } from '../core/health/health';
import { StreamMetrics } from '../core/health/metrics';
import { METRICS_TYPE, metricsSettings, type MetricsDef } from './health-settings';
import { nodeRoutes, ownerName } from './http-routes';
import { lifecycleOf, type Lifecycle } from './lifecycle';
import { labelledPools } from './pool-labels';
import type { Node, NodeRedRuntime } from './red-types';

/** One registry per runtime, made by its first metrics node and kept: redeploys never register a metric twice. */
const registries = new WeakMap<Lifecycle, StreamMetrics>();

function metricsOf(lifecycle: Lifecycle): StreamMetrics {
  let m = registries.get(lifecycle);
  if (!m) {
    m = new StreamMetrics();
    registries.set(lifecycle, m);
  }
  return m;
}

function answer(res: ServerResponse, head: boolean, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

function register(RED: NodeRedRuntime): void {
  function MetricsNode(this: Node, def: MetricsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const settings = metricsSettings(def);
    const fail = (text: string, message: string): void => {
      node.error(message);
      node.status({ fill: 'red', shape: 'ring', text });
    };
    if ('error' in settings) {
      const message = RED._(settings.error, settings.subs);
      fail(message.slice(0, 80), message);
      return;
    }
    const routes = nodeRoutes(RED);
    if (!routes) {
      node.warn(RED._('metrics.errors.httpDisabled'));
      node.status({ fill: 'grey', shape: 'ring', text: RED._('metrics.status.disabled') });
      return;
    }
    const metrics = metricsOf(lifecycle);

    const failed = (res: ServerResponse, err: Error): void => {
      node.error(RED._('metrics.errors.scrape', { message: err.message }));
      if (!res.headersSent) answer(res, false, 500, 'text/plain; charset=utf-8', `500 Internal Server Error: ${err.message}\n`);
    };
    const serveMetrics = (req: IncomingMessage, res: ServerResponse): void => {
      let text: Promise<{ contentType: string; body: string }>;
      try {
        text = metrics.exposition(sampleStreams(labelledPools(RED)), settings.processMetrics);
      } catch (err) {
        return failed(res, err as Error);
      }
      text.then(({ contentType, body }) => answer(res, req.method === 'HEAD', 200, contentType, body), (err: Error) => failed(res, err));
    };
    const serveHealth = (req: IncomingMessage, res: ServerResponse): void => {
      try {
        // No process figures here: a health check is polled often and needs only states.
        const report = healthReport(sampleStreams(labelledPools(RED), NO_USAGE));
        answer(res, req.method === 'HEAD', report.status, 'application/json; charset=utf-8', `${JSON.stringify(report.body)}\n`);
      } catch (err) {
        failed(res, err as Error);
      }
    };

    const claimed: string[] = [];
    try {
      if (settings.metricsPath) {
        routes.table.claim(settings.metricsPath, node.id, routes.route(serveMetrics));
        claimed.push(settings.metricsPath);
      }
      if (settings.healthPath) {
        routes.table.claim(settings.healthPath, node.id, routes.route(serveHealth));
        claimed.push(settings.healthPath);
      }
      node.status({ fill: 'green', shape: 'dot', text: claimed.join(' · ') });
    } catch (err) {
      for (const p of claimed.splice(0)) routes.table.release(p, node.id);
      const message = err instanceof PathInUseError
        ? RED._('metrics.errors.pathServed', { path: err.path, owner: ownerName(RED, err.owner) })
        : (err as Error).message;
      fail(RED._('metrics.status.pathInUse'), RED._('metrics.errors.pathInUse', { message }));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      for (const p of claimed) routes.table.release(p, node.id);
      node.status({});
      done();
    });
  }

  RED.nodes.registerType(METRICS_TYPE, MetricsNode);
}

export = register;
