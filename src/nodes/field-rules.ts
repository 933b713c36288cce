import { DEFAULT_MAX_PIXELS } from '../core/jpeg/jpeg-info';
import type { NumberRule } from './config';

/**
 * What each node accepts in its numeric fields, by editor property. The editor files (nodes/*.html) hold a copy
 * for their validators; test/browser/editor.test.js runs those validators in Chromium against these tables.
 */
export const POOL_RULES = {
  idleGrace: { min: 0, max: 3600, fallback: 10 },
  backoffBase: { min: 0.1, max: 60, fallback: 1 },
  backoffCap: { min: 0.1, max: 600, fallback: 30 },
  // 0: automatic, 10 frame intervals of each stream and at least 5 s (see stallLimitMs).
  stallTimeout: { min: 0, max: 300, fallback: 0 },
  // Threads FFmpeg decodes each camera with; 0: FFmpeg chooses (src/core/ffmpeg/args.ts accepts 0 to 64).
  decoderThreads: { min: 0, max: 64, fallback: 1, integer: true },
  // Replace each FFmpeg after this many hours of frames, and above this resident memory (0: never), without a gap.
  recycleHours: { min: 0, max: 8760, fallback: 24 },
  recycleMb: { min: 0, max: 65536, fallback: 0, integer: true },
} satisfies Record<string, NumberRule>;

export const SOURCE_RULES = {
  fps: { min: 0.1, max: 60, fallback: 10 },
  // FFmpeg scales to an even width; 0 keeps the source's.
  width: { min: 2, max: 7680, fallback: 0, integer: true, zero: true },
  quality: { min: 2, max: 31, fallback: 5, integer: true },
  lowFps: { min: 0, max: 60, fallback: 0.5 },
  snapshotTimeout: { min: 1, max: 120, fallback: 10 },
} satisfies Record<string, NumberRule>;

export const MJPEG_OUT_RULES = {
  maxViewers: { min: 1, max: 10000, fallback: 100, integer: true },
  // Empty (0): no limit, as Home Assistant and reverse proxies bring every viewer from one address. Above max viewers
  // it never binds; the total limit applies anyway.
  maxPerAddress: { min: 1, max: 10000, fallback: 0, integer: true },
  // Empty: 3840x2160.
  maxMegapixels: { min: 0.01, max: 100, fallback: DEFAULT_MAX_PIXELS / 1e6 },
  stallTimeout: { min: 1, max: 3600, fallback: 5 },
  stillTimeout: { min: 0.1, max: 120, fallback: 10 },
} satisfies Record<string, NumberRule>;

export const MOTION_RULES = {
  analysisWidth: { min: 16, max: 640, fallback: 240, integer: true },
  analysisHeight: { min: 16, max: 480, fallback: 180, integer: true },
  pixelThreshold: { min: 0.005, max: 0.9, fallback: 0.08 },
  minArea: { min: 1, max: 1e6, fallback: 80, integer: true },
  noiseFactor: { min: 0, max: 20, fallback: 3 },
  startFrames: { min: 1, max: 100, fallback: 3, integer: true },
  quietSeconds: { min: 0, max: 3600, fallback: 5 },
  cooldownSeconds: { min: 0, max: 3600, fallback: 1 },
  staleSeconds: { min: 1, max: 3600, fallback: 10 },
  discoveryDelay: { min: 0, max: 60, fallback: 2 },
} satisfies Record<string, NumberRule>;

/** By node type, for the test that compares them with the editor's validators. */
export const FIELD_RULES: Record<string, Record<string, NumberRule>> = {
  'glimpser-process-pool': POOL_RULES,
  'glimpser-ffmpeg-source': SOURCE_RULES,
  'glimpser-mjpeg-out': MJPEG_OUT_RULES,
  'glimpser-motion-detect': MOTION_RULES,
};
