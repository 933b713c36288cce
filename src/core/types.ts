/** One complete JPEG image (SOI..EOI) as it left FFmpeg or arrived on an input. Never mutated after creation. */
export interface Frame {
  readonly data: Buffer;
  /** Monotonic per stream, starting at 1 for the first frame of a process lifetime chain. */
  readonly seq: number;
  /** Epoch milliseconds at which the last byte of the frame arrived. */
  readonly time: number;
}

/** One small 8-bit gray image, row-major, width*height bytes, for motion detection. */
export interface GrayFrame {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly seq: number;
  readonly time: number;
}

/**
 * idle: no process (nobody asked for one); starting: spawned, no frame yet;
 * healthy: frames at the expected rate; degraded: frames, but slow or in a fallback;
 * recovering: the process died or stalled and a restart is scheduled or under way;
 * failed: a permanent error (bad URL, auth, missing binary) or retries exhausted.
 */
export type StreamState = 'idle' | 'starting' | 'healthy' | 'degraded' | 'recovering' | 'failed';

export interface StreamStats {
  state: StreamState;
  frames: number;
  bytes: number;
  /** Frames per second measured over the last few seconds. */
  fps: number;
  restarts: number;
  droppedBytes: number;
  lastError?: string;
  /** Epoch ms when the current process produced its first frame, if it has. */
  upSince?: number;
  pid?: number;
}
