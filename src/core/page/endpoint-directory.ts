import { EventEmitter } from 'node:events';
import type { MjpegEndpoint } from '../serve/mjpeg-endpoint';

/** One endpoint as the viewer page lists it. */
export interface DirectoryEntry {
  /** Stable across deploys (the mjpeg-out node's id). */
  readonly id: string;
  readonly name: string;
  readonly endpoint: MjpegEndpoint;
  /** The MJPEG path, relative to httpNodeRoot (undefined when the node serves no route). */
  readonly path: string | undefined;
}

/**
 * Every MJPEG endpoint of one runtime, for the viewer page: mjpeg-out nodes add theirs when built and remove it
 * when closed for good (a parked endpoint stays listed across a deploy, so open pages keep their tiles).
 * Events: 'change' (id), after any add, replacement or removal.
 */
export class EndpointDirectory extends EventEmitter<{ change: [id: string] }> {
  private readonly entries = new Map<string, DirectoryEntry>();

  /** Adds or replaces the entry of `entry.id`; says so only when something a viewer sees differs. */
  add(entry: DirectoryEntry): void {
    const prior = this.entries.get(entry.id);
    this.entries.set(entry.id, entry);
    if (prior && prior.endpoint === entry.endpoint && prior.name === entry.name && prior.path === entry.path) return;
    this.emit('change', entry.id);
  }

  /** Removes `id` if it still lists `endpoint` (a late close never removes its successor's entry). */
  remove(id: string, endpoint: MjpegEndpoint): void {
    if (this.entries.get(id)?.endpoint !== endpoint) return;
    this.entries.delete(id);
    this.emit('change', id);
  }

  get(id: string): DirectoryEntry | undefined {
    return this.entries.get(id);
  }

  /** Entries sorted by name, then id: the page's tile order. */
  list(): DirectoryEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get size(): number {
    return this.entries.size;
  }
}
