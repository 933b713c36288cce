import { ProcessPool } from '../core/pool';
import type { Node, NodeDef, NodeRedRuntime } from './red-types';
import { clampNumber } from './config';

export interface ProcessPoolDef extends NodeDef {
  ffmpegPath?: string;
  idleGrace?: string | number;
  backoffBase?: string | number;
  backoffCap?: string | number;
  stallTimeout?: string | number;
}

export interface ProcessPoolNode extends Node {
  pool: ProcessPool;
  /** Named `users` like Node-RED's mqtt-broker: the runtime routes a config node's status to its users' flows. */
  users: Record<string, Node>;
  register(node: Node): void;
  deregister(node: Node): void;
}

/** Builds a pool from config values (seconds in the editor, milliseconds in the core), clamped once here. */
export function poolFromConfig(def: Partial<ProcessPoolDef>): ProcessPool {
  const baseMs = clampNumber(def.backoffBase, 1, 0.1, 60) * 1000;
  return new ProcessPool({
    ffmpegPath: typeof def.ffmpegPath === 'string' ? def.ffmpegPath : undefined,
    idleGraceMs: clampNumber(def.idleGrace, 10, 0, 3600) * 1000,
    supervisor: {
      backoff: { baseMs, capMs: Math.max(baseMs, clampNumber(def.backoffCap, 30, 1, 600) * 1000), jitter: 0.2 },
      stallTimeoutMs: clampNumber(def.stallTimeout, 10, 2, 300) * 1000,
    },
  });
}

/** Logs the chosen binary once and reports a missing one as an error, not a crash. */
export function reportBinary(pool: ProcessPool, log: (msg: string) => void, error: (msg: string) => void): void {
  pool.on('binary', (b) => log(`FFmpeg: ${b.path} (${b.origin}) — ${b.version}`));
  pool.on('binaryError', (err) => error(err.message));
}

module.exports = function register(RED: NodeRedRuntime): void {
  function ProcessPoolConfig(this: ProcessPoolNode, def: ProcessPoolDef): void {
    RED.nodes.createNode(this, def);
    const pool = poolFromConfig(def);
    this.pool = pool;
    this.users = {};
    reportBinary(pool, (m) => this.log(m), (m) => this.error(m));
    this.register = (node) => {
      this.users[node.id] = node;
    };
    this.deregister = (node) => {
      delete this.users[node.id];
    };
    this.on('close', (_removed: boolean, done: () => void) => {
      pool.close().then(done, (err: Error) => {
        this.error(err.message);
        done();
      });
    });
  }
  RED.nodes.registerType('glimpser-process-pool', ProcessPoolConfig);
};
