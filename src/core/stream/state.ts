import type { CaptureLike } from '../capture/capture';
import type { StreamState } from '../types';

const PRODUCING: ReadonlySet<StreamState> = new Set(['healthy', 'degraded']);

export interface StateInputs {
  /** The main process, and the detect source's (the only one running while nobody needs more than motion). */
  main: CaptureLike | undefined;
  detect: CaptureLike | undefined;
  /** Options no process could be built from. */
  failure: string | undefined;
  /** No source defines the stream: the reason a refused source gave, or undefined; and whether users wait for it. */
  undefinedStream: { refusal: string | undefined; users: boolean; deployed: boolean } | undefined;
  /** Hardware decoding fell back to software, and why. */
  fallbackReason: string | undefined;
}

/**
 * A stream's state and its reason, from its processes and what defines it: the main process's, else the detect
 * source's; failed for a refused source, or for users with no source once a deploy has finished; degraded while
 * the detect source is down beside a healthy main, or hardware decoding fell back to software.
 */
export function streamState(i: StateInputs): { state: StreamState; reason: string | undefined; retries: number } {
  const detect = i.detect;
  const main = i.main ?? detect;
  let state: StreamState = i.failure ? 'failed' : main?.state ?? 'idle';
  let reason: string | undefined = i.failure;
  let retries = 0;
  if (main) {
    retries = main.stats().retries;
    if (state !== 'healthy') reason = main.reason;
  } else if (i.undefinedStream && (i.undefinedStream.users || i.undefinedStream.refusal !== undefined)) {
    const { refusal } = i.undefinedStream;
    reason = refusal ?? 'no source node defines this stream';
    // Mid-deploy a consumer may be built before its source: only a finished deploy makes a missing source a fault.
    if (refusal !== undefined || i.undefinedStream.deployed) state = 'failed';
  }
  if (state === 'healthy' && detect && detect !== main && !PRODUCING.has(detect.state) && detect.state !== 'starting') {
    const lastError = detect.stats().lastError;
    return { state: 'degraded', reason: `detect source ${detect.state}${lastError ? `: ${lastError}` : ''}`, retries };
  }
  if (state === 'healthy' && i.fallbackReason) return { state: 'degraded', reason: i.fallbackReason, retries };
  return { state, reason, retries };
}
