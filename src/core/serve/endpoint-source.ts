import type { Demand, ReleaseMode, StateChange, UserCounters } from '../stream/stream';
import type { Frame, StreamState } from '../types';

/** The stream an endpoint serves, as the endpoint needs it: state for placeholders, demand for its viewers. */
export interface EndpointSource {
  readonly state: StreamState;
  readonly lastError: string | undefined;
  latest(): Frame | undefined;
  use(userId: string, demand: Demand, counters?: () => UserCounters): void;
  unuse(userId: string, mode: ReleaseMode): void;
  /** The stream's definition: a demand at its frame rate or above is every frame. */
  readonly definition?: { readonly capture: { readonly fps: number } } | undefined;
  /** Whether the stream's motion-detect sees motion now; undefined when nothing watches it for motion. */
  readonly motion?: boolean | undefined;
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  on(event: 'motion', listener: (active: boolean) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'motion', listener: (active: boolean) => void): unknown;
}

/** The stream cannot make pictures now: viewers get placeholders, a still is refused at once. */
export const DOWN_STATES: ReadonlySet<StreamState> = new Set(['recovering', 'failed']);
/** No frames are coming now (a frame newer than the state change proves otherwise). */
export const NOT_PRODUCING: ReadonlySet<StreamState> = new Set(['idle', 'starting', 'recovering', 'failed']);
