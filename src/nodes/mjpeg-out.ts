import { jpegView } from '../core/jpeg/jpeg-info';
import { MjpegEndpoint } from '../core/serve/mjpeg-endpoint';
import { normalisePath, PathInUseError, type RouteTable } from '../core/serve/route-table';
import { ReportLimiter } from '../core/util/report-limiter';
import { rangeMessage, readNumbers, trimmed, errorReportMs } from './config';
import { MJPEG_OUT_RULES } from './field-rules';
import { clientAddress, nodeRoutes, ownerName } from './http-routes';
import { lifecycleOf, settingsHash } from './lifecycle';
import { poolHandleFor } from './pool-handle';
import type { Node, NodeDef, NodeRedRuntime, NodeStatus } from './red-types';
import { resolveStream } from './stream-ref';
import { statusText } from './status-text';

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

function register(RED: NodeRedRuntime): void {
  function MjpegOutNode(this: Node, config: MjpegOutConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const streamPath = normalisePath(config.path);
    const stillPath = config.stillPath?.trim() ? normalisePath(config.stillPath) : undefined;
    const { values, problems } = readNumbers(config, MJPEG_OUT_RULES);
    const refused = problems.map((p) => rangeMessage(RED._, 'mjpeg-out', p));
    const maxViewers = values.maxViewers;
    const settings = {
      name: config.name || streamPath || 'mjpeg',
      streamPath,
      stillPath,
      maxViewers,
      // Empty: no limit. Home Assistant and reverse proxies bring every viewer from one address; fairness between
      // addresses then comes only from the eviction of a full stream.
      maxPerAddress: values.maxPerAddress > 0 ? Math.min(values.maxPerAddress, maxViewers) : undefined,
      maxPixels: Math.round(values.maxMegapixels * 1e6),
      stallTimeoutMs: values.stallTimeout * 1000,
      stillTimeoutMs: values.stillTimeout * 1000,
    };
    const label = settings.name;
    const { ref, problem } = resolveStream(RED, config, trimmed(config.stream));
    // Without its stream the node still serves frames from its wire, but no viewer can start an on-demand camera.
    if (problem?.kind === 'none') node.warn(RED._('mjpeg-out.warnings.noStream'));
    else if (problem?.kind === 'several') node.warn(RED._('mjpeg-out.warnings.severalStreams', { streams: problem.streams.join(', ') }));
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
        ...(settings.maxPerAddress ? { maxPerAddress: settings.maxPerAddress } : {}),
        maxPixels: settings.maxPixels,
        stallTimeoutMs: settings.stallTimeoutMs,
        stillTimeoutMs: settings.stillTimeoutMs,
        onError: (err) => node.warn(RED._('mjpeg-out.warnings.placeholder', { message: err instanceof Error ? err.message : String(err) })),
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
      if (routesProblem) return setStatus({ fill: 'red', shape: 'ring', text: statusText(routesProblem) });
      // A camera that cannot deliver shows downstream too: its viewers and stills get placeholders and 503s.
      const { state, reason } = endpoint.stateInfo;
      if (state === 'failed' || state === 'recovering') {
        const text = RED._(reason ? `mjpeg-out.status.${state}` : `mjpeg-out.status.${state}NoReason`, { reason });
        return setStatus({ fill: state === 'failed' ? 'red' : 'yellow', shape: 'ring', text: statusText(text) });
      }
      const viewers = endpoint.viewers;
      const t = performance.now();
      const written = endpoint.hub.partsWritten;
      const fps = viewers > 0 && t > lastAt ? (written - lastWritten) / viewers / ((t - lastAt) / 1000) : 0;
      lastWritten = written;
      lastAt = t;
      if (viewers === 0) return setStatus({ fill: 'green', shape: 'ring', text: RED._('mjpeg-out.status.noViewers') });
      setStatus({
        fill: endpoint.framesIn > 0 ? 'green' : 'yellow',
        shape: endpoint.framesIn > 0 ? 'dot' : 'ring',
        text: RED._(viewers === 1 ? 'mjpeg-out.status.oneViewer' : 'mjpeg-out.status.viewers', { viewers, fps: fps.toFixed(1) }),
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
    const onState = (): void => updateStatus();
    endpoint.on('state', onState);

    const claimed: string[] = [];
    let table: RouteTable | undefined;
    const routes = nodeRoutes(RED);
    if (refused.length > 0) {
      // Refused settings: each is reported and nothing is served until they are fixed.
      routesProblem = refused[0];
      for (const message of refused) node.error(message);
    } else if (!routes) {
      routesProblem = RED._('mjpeg-out.status.httpDisabled');
      node.warn(RED._('mjpeg-out.warnings.httpDisabled'));
    } else if (!streamPath) {
      routesProblem = RED._('mjpeg-out.status.invalidPath');
      node.error(RED._('mjpeg-out.errors.invalidPath', { path: JSON.stringify(config.path ?? '') }));
    } else if (config.stillPath?.trim() && !stillPath) {
      routesProblem = RED._('mjpeg-out.status.invalidStillPath');
      node.error(RED._('mjpeg-out.errors.invalidStillPath', { path: JSON.stringify(config.stillPath) }));
    } else if (stillPath === streamPath) {
      routesProblem = RED._('mjpeg-out.status.samePaths');
      node.error(RED._('mjpeg-out.errors.samePaths', { path: streamPath }));
    } else {
      table = routes.table;
      try {
        table.claim(streamPath, node.id, routes.route((req, res) => endpoint.serveStream(req, res, clientAddress(req))));
        claimed.push(streamPath);
        if (stillPath) {
          table.claim(stillPath, node.id, routes.route((req, res) => endpoint.serveStill(req, res)));
          claimed.push(stillPath);
        }
      } catch (err) {
        for (const p of claimed.splice(0)) table.release(p, node.id);
        routesProblem = RED._('mjpeg-out.status.pathInUse');
        node.error(
          err instanceof PathInUseError
            ? RED._('mjpeg-out.errors.pathInUse', { path: err.path, owner: ownerName(RED, err.owner) })
            : RED._('mjpeg-out.errors.routes', { message: err instanceof Error ? err.message : String(err) }),
        );
      }
    }
    updateStatus();

    let badInputs = 0;
    // One report per period: a misconfigured flow at 10 fps would otherwise flood the log.
    const badReports = new ReportLimiter(errorReportMs(RED.settings));
    const report = (done: (err?: Error) => void, err: Error): void => {
      badInputs++;
      if (badReports.offer() === undefined) return done();
      done(new Error(RED._('mjpeg-out.errors.dropped', { message: err.message, dropped: badInputs })));
    };
    node.on('input', (msg, _send, done) => {
      const f = msg.frame as { seq?: unknown; time?: unknown; jpeg?: unknown } | undefined;
      // A source message that carries only gray frames (no viewer needed a JPEG of that frame).
      if (f?.jpeg === false && msg.payload === undefined) return done();
      const jpeg = jpegView(msg.payload);
      if (!jpeg) {
        const what = Buffer.isBuffer(msg.payload) ? RED._('mjpeg-out.errors.notJpegBuffer', { bytes: msg.payload.length }) : typeof msg.payload;
        return report(done, new Error(RED._('mjpeg-out.errors.notJpeg', { what })));
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
      endpoint.off('state', onState);
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
  }

  RED.nodes.registerType(NODE_TYPE, MjpegOutNode);
}

export = register;
