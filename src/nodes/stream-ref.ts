import type { NodeDef, NodeRedRuntime } from './red-types';
import { trimmed } from './config';
import { nameFromSource } from './source-name';

export const SOURCE_TYPE = 'glimpser-ffmpeg-source';

/** The stream an ffmpeg-source node defines: its Stream field, else a name from its source (see nameFromSource), else its id. */
export function streamNameOf(def: NodeDef): string {
  return trimmed(def.name) || nameFromSource(trimmed(def.source)) || def.id;
}

export interface StreamRef {
  name: string;
  /** The process-pool config node of the source that defines it (undefined: the default pool). */
  poolId: string | undefined;
}

/** What a consumer's wires lead back to: the cameras (distinct streams) upstream of it, nearest first. */
export interface Upstream {
  streams: StreamRef[];
}

/**
 * The ffmpeg-source nodes whose frames can reach node `id` on the wires of this deployed configuration (`defs`, as
 * Node-RED's flow file holds them), through any nodes between (change, function, switch, delay, …) and through link
 * nodes: a `link in` receives from the `link out` nodes that list it (or that it lists) and from the `link call`
 * nodes that call it; a `link out` in return mode sends back to its caller, so a `link call` passes on what came
 * into it. The walk stops at a camera (what feeds a camera are snapshot triggers, not frames) and visits each node
 * once, so loops end. Disabled nodes and nodes of disabled flows send nothing.
 */
export function upstreamStreams(defs: readonly NodeDef[], id: string): Upstream {
  const disabledTabs = new Set(defs.filter((d) => d.type === 'tab' && d.disabled === true).map((d) => d.id));
  const live = defs.filter((d) => d.d !== true && !(d.z !== undefined && disabledTabs.has(d.z)));
  const feeders = new Map<string, NodeDef[]>();
  const feed = (target: string, from: NodeDef): void => {
    const list = feeders.get(target);
    if (list) list.push(from);
    else feeders.set(target, [from]);
  };
  const listOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const linkIns = new Map(live.filter((d) => d.type === 'link in').map((d) => [d.id, d]));
  for (const d of live) {
    if (Array.isArray(d.wires)) for (const port of d.wires) if (Array.isArray(port)) for (const t of port) if (typeof t === 'string') feed(t, d);
    if (d.type === 'link out' && d.mode !== 'return') for (const t of listOf(d.links)) feed(t, d);
    if (d.type === 'link call') for (const t of listOf(d.links)) feed(t, d);
  }
  // A link in may list its link outs without them listing it (a flow edited by hand): the pair counts either way.
  const byId = new Map(live.map((d) => [d.id, d]));
  for (const d of linkIns.values()) {
    for (const o of listOf(d.links)) {
      const out = byId.get(o);
      if (out?.type === 'link out' && out.mode !== 'return' && !listOf(out.links).includes(d.id)) feed(d.id, out);
    }
  }

  const streams: StreamRef[] = [];
  const seen = new Set<string>([id]);
  const queue = [...(feeders.get(id) ?? [])];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i]!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    if (n.type === SOURCE_TYPE) {
      const ref = { name: streamNameOf(n), poolId: trimmed(n.pool) || undefined };
      if (!streams.some((s) => s.name === ref.name && s.poolId === ref.poolId)) streams.push(ref);
      continue;
    }
    for (const f of feeders.get(n.id) ?? []) if (!seen.has(f.id)) queue.push(f);
  }
  return { streams };
}

/** Every node of the deployed configuration, as eachNode hands them out. */
function deployedDefs(RED: NodeRedRuntime): NodeDef[] {
  const defs: NodeDef[] = [];
  RED.nodes.eachNode((n) => {
    defs.push(n);
  });
  return defs;
}

/** Why a consumer with an empty Stream field has no stream: no camera upstream, or several. */
export type StreamProblem = { kind: 'none' } | { kind: 'several'; streams: string[] };

/**
 * The stream a consumer node (mjpeg-out, motion-detect, stream-health) belongs to: the one its Stream field names,
 * else that of the one camera upstream of it (see upstreamStreams). With none or several upstream, `problem` says
 * which, so the node can ask for its Stream field to be set. Read from the deployed configuration, so the order in
 * which Node-RED builds the nodes does not matter; frames still come on the wires.
 */
export function resolveStream(RED: NodeRedRuntime, def: NodeDef, configured: string): { ref?: StreamRef; problem?: StreamProblem } {
  const defs = deployedDefs(RED);
  if (configured) {
    const source = defs.find((n) => n.type === SOURCE_TYPE && n.d !== true && streamNameOf(n) === configured);
    return { ref: { name: configured, poolId: source ? trimmed(source.pool) || undefined : undefined } };
  }
  const { streams } = upstreamStreams(defs, def.id);
  if (streams.length === 1) return { ref: streams[0]! };
  if (streams.length === 0) return { problem: { kind: 'none' } };
  return { problem: { kind: 'several', streams: streams.map((s) => s.name) } };
}

/** The stream a consumer belongs to, as resolveStream finds it; undefined when its Stream field must be set. */
export function findStream(RED: NodeRedRuntime, def: NodeDef, configured: string): StreamRef | undefined {
  return resolveStream(RED, def, configured).ref;
}
