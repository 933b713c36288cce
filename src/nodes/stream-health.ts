import { sampleEach, streamFigures, type StreamSample } from '../core/health/health';
import type { ProcessPool } from '../core/stream/pool';
import type { StateChange, Stream } from '../core/stream/stream';
import type { StreamState } from '../core/types';
import { HEALTH_TYPE, healthSettings, type HealthSettings, type StreamHealthDef } from './health-settings';
import { lifecycleOf } from './lifecycle';
import { poolHandleFor, type PoolHandle } from './pool-handle';
import { POOL_TYPE, poolLabel } from './pool-labels';
import type { DoneFn, Node, NodeMessage, NodeRedRuntime, SendFn } from './red-types';
import { STATE_FILL } from './state-fill';
import { resolveStream } from './stream-ref';
import { statusText } from './status-text';

/** Worst first: the pool status takes its colour from the worst stream. */
const SEVERITY: readonly StreamState[] = ['failed', 'recovering', 'degraded', 'starting', 'healthy', 'idle'];

function register(RED: NodeRedRuntime): void {
  function StreamHealthNode(this: Node, def: StreamHealthDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const settings = healthSettings(def);
    let problem: string | undefined;
    let handle: PoolHandle | undefined;
    let pool: ProcessPool | undefined;
    let single: Stream | undefined;

    if ('error' in settings) {
      problem = RED._(settings.error, settings.subs);
    } else if (settings.scope === 'pool') {
      // A named pool that is not deployed must not quietly become the default pool: the user would watch the wrong streams.
      const poolNode = settings.poolId ? RED.nodes.getNode(settings.poolId) : null;
      if (settings.poolId && (!poolNode || poolNode.type !== POOL_TYPE)) problem = RED._('stream-health.errors.pool', { id: settings.poolId });
      else handle = poolHandleFor(RED, settings.poolId);
    } else {
      const { ref, problem: missing } = resolveStream(RED, def, settings.stream);
      if (missing?.kind === 'several') problem = RED._('stream-health.errors.severalStreams', { streams: missing.streams.join(', ') });
      else if (!ref) problem = RED._('stream-health.errors.noStream');
      else {
        handle = poolHandleFor(RED, ref.poolId);
        try {
          single = handle.pool.stream(ref.name);
        } catch (err) {
          problem = (err as Error).message;
          handle = undefined;
        }
      }
    }

    if (problem || !handle) {
      node.error(problem);
      node.status({ fill: 'red', shape: 'ring', text: statusText(problem ?? '') });
      node.on('input', (_msg: NodeMessage, _send: SendFn, done: DoneFn) => done(new Error(problem)));
      return;
    }
    const ok = settings as HealthSettings;
    const owner = handle;
    owner.register(node);
    pool = owner.pool;
    const label = (): string => poolLabel(RED, owner.pool);

    // Watched streams and each one's last reported sample (for CPU % and latency over the interval).
    const watched = new Map<Stream, (change: StateChange) => void>();
    const previous = new Map<Stream, StreamSample>();

    const showStatus = (latest?: readonly StreamSample[]): void => {
      if (single) {
        const { state, reason } = single.stateInfo;
        let text = RED._(`stream-health.status.${state}`);
        const fps = latest?.[0]?.snapshot.fps;
        if ((state === 'healthy' || state === 'degraded') && fps !== undefined) text = RED._('stream-health.status.withFps', { state: text, fps: fps.toFixed(1) });
        if (state !== 'healthy' && reason) text = RED._('stream-health.status.withReason', { state: text, reason });
        text = RED._('stream-health.status.named', { stream: single.name, text });
        node.status({ fill: STATE_FILL[state], shape: state === 'healthy' ? 'dot' : 'ring', text: statusText(text) });
        return;
      }
      const counts = new Map<StreamState, number>();
      for (const s of watched.keys()) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
      if (counts.size === 0) {
        node.status({ fill: 'grey', shape: 'ring', text: RED._('stream-health.status.noStreams') });
        return;
      }
      const worst = SEVERITY.find((s) => counts.has(s)) ?? 'idle';
      const parts = SEVERITY.filter((s) => counts.has(s)).map((s) =>
        RED._('stream-health.status.count', { count: counts.get(s), state: RED._(`stream-health.status.${s}`) }),
      );
      node.status({ fill: STATE_FILL[worst], shape: worst === 'healthy' ? 'dot' : 'ring', text: statusText(parts.join(', ')) });
    };

    const watch = (stream: Stream): void => {
      if (watched.has(stream)) return;
      const onState = (change: StateChange): void => {
        node.send([
          {
            topic: stream.name,
            payload: {
              stream: stream.name,
              pool: label(),
              state: change.state,
              previous: change.previous,
              reason: change.reason ?? null,
              retries: change.retries,
              time: change.time,
            },
          },
          null,
        ]);
        showStatus();
      };
      watched.set(stream, onState);
      stream.on('state', onState);
    };
    const unwatch = (stream: Stream): void => {
      const onState = watched.get(stream);
      if (onState) stream.off('state', onState);
      watched.delete(stream);
      previous.delete(stream);
      showStatus();
    };

    if (single) {
      // A user with no demand: it keeps the stream's name known to the pool across deploys, and starts nothing.
      single.use(node.id, {});
      watch(single);
    } else {
      for (const s of pool.streams()) watch(s);
      pool.on('streamAdded', watch);
      pool.on('streamRemoved', unwatch);
    }

    /** One figures message per watched stream, on the second output (with `send`: the input handler's). */
    const report = (send: SendFn = (msg) => node.send(msg)): void => {
      const streams = [...watched.keys()];
      const poolName = label();
      const samples = sampleEach(streams.map((stream) => ({ pool: poolName, stream })));
      const msgs: NodeMessage[] = samples.map((sample, i) => {
        const stream = streams[i]!;
        const figures = streamFigures(sample, previous.get(stream));
        previous.set(stream, sample);
        return { topic: stream.name, payload: figures };
      });
      if (msgs.length > 0) send([null, msgs]);
      showStatus(samples);
    };

    const timer = ok.intervalMs > 0 ? setInterval(() => report(), ok.intervalMs) : undefined;
    showStatus();

    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      // Frames from a wired ffmpeg-source only say which stream to watch; any other message asks for the figures now.
      if (msg.frame !== undefined) return done();
      report(send);
      done();
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearInterval(timer);
      for (const s of [...watched.keys()]) unwatch(s);
      pool?.off('streamAdded', watch);
      pool?.off('streamRemoved', unwatch);
      // Redeployed, the successor takes over the name at once; removed, the stream may be forgotten.
      single?.unuse(node.id, removed || lifecycle.stopping ? 'now' : 'handover');
      node.status({});
      owner.deregister(node, done, removed);
    });
  }

  RED.nodes.registerType(HEALTH_TYPE, StreamHealthNode);
}

export = register;
