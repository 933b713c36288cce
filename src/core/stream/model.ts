/**
 * The words of a stream: what a source defines, what users demand, what the stream reports. Shared by the stream,
 * its demand plan, the pool and every node that uses a stream.
 */
import type { CaptureLike } from '../capture/capture';
import type { Box, CaptureOptions } from '../ffmpeg/options';
import type { FfmpegBinary } from '../ffmpeg/binary';
import type { HwaccelFallback } from '../hwaccel/fallback';
import type { HwaccelPlan } from '../hwaccel/methods';
import type { Histogram } from '../util/histogram';
import type { GrayFrame, StreamState } from '../types';

export type ReadMode = 'auto' | 'ffmpeg' | 'passthrough';

/** What a source node says a stream is. Outputs (gray sizes, the JPEG rate) come from the users' demand. */
export interface StreamDefinition {
  /** Source and JPEG settings of the main process. Its `gray`, `jpeg` and `jpegEvery` are ignored. */
  capture: CaptureOptions;
  /**
   * JPEG rate while nobody needs every frame, so stills, Home Assistant's thumbnails and motion snapshots always
   * have a recent picture. 0, or at least the stream's rate: every frame is always encoded.
   */
  lowFps: number;
  /** A second source for motion only (a camera's sub-stream): the gray frames come from it, the JPEG from `capture`. */
  detect?: CaptureOptions;
  /**
   * How an http(s) camera is read: 'auto' tries our own client first and keeps it when the camera answers MJPEG
   * (pass-through), else reads it with FFmpeg; 'passthrough' and 'ffmpeg' force one way. Absent: as
   * `capture.passthrough` says.
   */
  read?: ReadMode;
  /** Hardware decoding for the main process, with a runtime fallback to software. */
  accel?: AccelProvider;
}

export interface AccelProvider {
  /** Equal keys mean the same settings: a redeployed source keeps the plan, the fallback state and the process. */
  readonly key: string;
  /** The plan to use (probing the pool's FFmpeg if it must) and a note when it is not what was asked for. */
  resolve(): Promise<{ plan: HwaccelPlan; note?: string }>;
  /** The runtime fallback policy for a stream decoding with `plan`. */
  fallback(plan: HwaccelPlan): HwaccelFallback;
}

/** What one user of a stream needs now. */
export interface Demand {
  /** Keep the stream running (an always-on source, a pending still or snapshot). */
  run?: boolean;
  /**
   * While the stream runs: JPEG at every frame (viewers, flows that consume frames), at the low rate, or at least at
   * this many frames per second (viewers that take fewer, motion-aware viewers while nothing moves).
   */
  jpeg?: 'full' | 'low' | number;
  /** Gray frames fitting this box (a motion-detect node). Implies running. */
  gray?: Box;
  /** A smaller JPEG of this width beside the main one (thumbnail viewers). */
  thumb?: number;
}

/** Counters a user keeps where they happen (viewers in mjpeg-out, detection time in motion-detect). */
export interface UserCounters {
  viewers?: number;
  droppedFrames?: number;
  latency?: Histogram;
  detectMs?: Histogram;
  /** Viewers refused (the stream full, or their address at its limit), counted by the endpoint that refused them. */
  viewersRefused?: Readonly<Record<ViewerRefusal, number>>;
}

/** Why a viewer was refused: the stream was full (503), or its address held its share (429). */
export type ViewerRefusal = 'full' | 'address';

export interface StreamFrame {
  /** Monotonic per stream, across process restarts and output changes. */
  readonly seq: number;
  readonly time: number;
  /** The JPEG of this frame, when one was encoded (every frame, or every n-th at the low rate). */
  readonly jpeg: Buffer | undefined;
  /** Gray frames by box key ("240x180"), one per size that motion users asked for. */
  readonly gray: Readonly<Record<string, GrayFrame>>;
  /** Thumbnail JPEGs by width ("320"), with the main JPEG, one per width that viewers asked for. */
  readonly thumbs?: Readonly<Record<string, Buffer>>;
}

export interface StateChange {
  readonly state: StreamState;
  readonly previous: StreamState;
  readonly reason: string | undefined;
  /** Consecutive failed starts behind this state (0 when healthy). */
  readonly retries: number;
  readonly time: number;
}

export interface StreamSnapshot extends StateChange {
  name: string;
  source: string | undefined;
  /** Frame sets delivered per second over the last few seconds. */
  fps: number;
  /** Frames per second the camera sends before the rate limit (pass-through cameras; undefined for FFmpeg). */
  sourceFps: number | undefined;
  expectedFps: number;
  frames: number;
  jpegFrames: number;
  bytes: number;
  restarts: number;
  /** FFmpeg processes replaced without a gap by the pool's recycle policy. */
  recycles: number;
  viewers: number;
  droppedFrames: number;
  viewersRefused: Record<ViewerRefusal, number>;
  latency: Histogram;
  detectMs: Histogram;
  lastFrameAt: number | undefined;
  pids: number[];
  ffmpeg: Pick<FfmpegBinary, 'path' | 'version' | 'origin'> | undefined;
  outputs: { jpegEvery: number; gray: string[]; detect: boolean };
  acceleration: string;
  fallbackReason: string | undefined;
}

export interface StreamLease {
  readonly key: string;
  readonly capture: CaptureLike;
  /** Gives the process back; resolves once it has stopped, or at once when others still use it. */
  release(immediate?: boolean): Promise<void>;
}

/** The pool's process table as a stream sees it: processes shared by signature. */
export interface ProcessSource {
  acquireCapture(capture: CaptureOptions, after?: Promise<unknown>): StreamLease;
  readonly idleGraceMs: number;
}

export class StreamConflictError extends Error {
  override readonly name = 'StreamConflictError';
}

export type ReleaseMode = 'now' | 'grace' | 'handover';
