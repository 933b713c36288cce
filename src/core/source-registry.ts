import { EventEmitter } from 'node:events';
import type { Frame, StreamState } from './types';

/**
 * What a consumer node (mjpeg-out, motion-detect, stream-health) may ask of a source node that feeds it.
 * Consumers find their upstream sources by id through the registry, because Node-RED gives no
 * ordering guarantee between the construction of wired nodes.
 */
export interface SourceHandle extends EventEmitter {
  readonly id: string;
  readonly name: string;
  state(): StreamState;
  lastError(): string | undefined;
  /** The latest frame, if the source has produced one since it last started. */
  latest(): Frame | undefined;
  /** A consumer wants frames: starts an on-demand source. Idempotent per consumer id. */
  acquire(consumerId: string): void;
  /** The consumer no longer wants frames: the last release starts the idle grace. */
  release(consumerId: string): void;
  // Events: 'state' (state: StreamState, reason?: string), 'frame' (frame: Frame)
}

/** Process-wide registry of source nodes by Node-RED node id. */
export class SourceRegistry extends EventEmitter {
  private readonly sources = new Map<string, SourceHandle>();

  add(source: SourceHandle): void {
    this.sources.set(source.id, source);
    this.emit('added', source);
  }

  remove(source: SourceHandle): void {
    if (this.sources.get(source.id) === source) {
      this.sources.delete(source.id);
      this.emit('removed', source);
    }
  }

  get(id: string): SourceHandle | undefined {
    return this.sources.get(id);
  }
}

/** One registry for the whole Node-RED process (all flows share the module instance). */
export const sourceRegistry = new SourceRegistry();
