export interface BackoffOptions {
  /** First delay in ms. */
  baseMs: number;
  /** Largest delay in ms. */
  capMs: number;
  /** Fraction of the delay randomised either way, 0..1, so that many cameras restarting together spread out. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 30_000, jitter: 0.2 };

/** Delay before restart number `attempt` (1-based): base * 2^(attempt-1), capped, with jitter. */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(o.capMs, o.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const spread = exp * Math.min(1, Math.max(0, o.jitter));
  return Math.max(0, Math.round(exp - spread + random() * 2 * spread));
}
