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

/**
 * The stream a consumer node (mjpeg-out, motion-detect, stream-health) belongs to: the one its Stream field names,
 * else that of an ffmpeg-source wired straight into it. Read from the deployed configuration, so the order in
 * which Node-RED builds the nodes does not matter; frames still come on the wires.
 */
export function findStream(RED: NodeRedRuntime, def: NodeDef, configured: string): StreamRef | undefined {
  let byName: StreamRef | undefined;
  let wired: StreamRef | undefined;
  RED.nodes.eachNode((n) => {
    if (n.type !== SOURCE_TYPE || n.d === true) return;
    const name = streamNameOf(n);
    const poolId = trimmed(n.pool) || undefined;
    if (configured && name === configured) byName ??= { name, poolId };
    if (!configured && Array.isArray(n.wires) && n.wires.some((port) => Array.isArray(port) && port.includes(def.id))) wired ??= { name, poolId };
  });
  if (configured) return byName ?? { name: configured, poolId: undefined };
  return wired;
}
