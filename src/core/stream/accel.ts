import type { CaptureExit } from '../capture/capture';
import type { HwaccelFallback } from '../hwaccel/fallback';
import type { HwaccelPlan } from '../hwaccel/methods';
import type { AccelProvider } from './model';

/** An accelerated process that has delivered frames this long is trusted: a fallback reason no longer applies. */
const STABLE_MS = 60_000;

/**
 * A stream's hardware decoding: the plan its provider resolved (probing the pool's FFmpeg), the fallback policy, and
 * the retry of acceleration after a fallback to software. `replan` asks the stream to bring its processes in line
 * ('now': at once, as after a fallback; 'grace': as demand changes do).
 */
export class StreamAccel {
  private plan: HwaccelPlan | undefined;
  private fallbackPolicy: HwaccelFallback | undefined;
  private stable = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** The probe failed: the stream decodes in software (the provider has said why). */
  private unavailable = false;

  constructor(
    private provider: AccelProvider,
    private readonly replan: (mode: 'now' | 'grace') => void,
  ) {
    provider.resolve().then(
      ({ plan }) => {
        if (this.disposed) return;
        this.plan = plan;
        this.fallbackPolicy = provider.fallback(plan);
        this.replan('grace');
      },
      () => {
        if (this.disposed) return;
        this.unavailable = true;
        this.replan('grace');
      },
    );
  }

  get key(): string {
    return this.provider.key;
  }

  /** Still probing: nothing should start yet. */
  get pending(): boolean {
    return this.plan === undefined && !this.unavailable;
  }

  get fallback(): HwaccelFallback | undefined {
    return this.fallbackPolicy;
  }

  /** The hardware plan the main process should use now: none while software is in force. */
  get activePlan(): HwaccelPlan | undefined {
    return this.plan && this.fallbackPolicy?.accelerated && this.plan.method !== 'software' ? this.plan : undefined;
  }

  /**
   * The same settings deployed again: the user's way to say "try again". Acceleration that fell back is tried now,
   * not at its next retry; the hardware process starts beside the software one, which goes once the new one delivers.
   */
  redeployed(provider: AccelProvider): void {
    this.provider = provider;
    const fallback = this.fallbackPolicy;
    if (fallback && !fallback.accelerated && fallback.method !== 'software') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.stable = false;
      fallback.startRetry();
    }
  }

  /** An accelerated main process delivered a frame `runMs` after it came up. */
  delivered(runMs: number): boolean {
    if (this.stable || runMs < STABLE_MS) return false;
    this.stable = true;
    this.fallbackPolicy?.onStable();
    return true;
  }

  /** An accelerated main process exited: fall back to software at once if the policy says so, and retry later. */
  exited(exit: CaptureExit): void {
    const fallback = this.fallbackPolicy;
    if (!fallback) return;
    const decision = fallback.onExit(exit);
    if (decision.action !== 'fallback') return;
    this.stable = false;
    // A camera never stays dark for its acceleration: software at once, acceleration again later.
    this.replan('now');
    clearTimeout(this.retryTimer);
    if (decision.retryAt !== undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!fallback.retryDue()) return;
        fallback.startRetry();
        this.replan('grace');
      }, Math.max(0, decision.retryAt - Date.now()));
    }
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
