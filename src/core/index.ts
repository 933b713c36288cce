/**
 * The Node-RED-free core, for use outside Node-RED (scripts, other integrations) and for benchmarks:
 * `require('node-red-contrib-glimpser')` gives these.
 */
export { ProcessPool, type Lease, type PoolOptions } from './pool';
export { Stream } from './stream';
export { Supervisor, DEFAULT_SUPERVISOR, type SupervisorOptions } from './supervisor';
export { buildArgs, detectKind, displaySource, redact, sourceSignature, SourceConfigError, type CaptureOptions, type SourceKind } from './ffmpeg-args';
export { resolveFfmpeg, locateFfmpeg, FfmpegNotFoundError, type FfmpegBinary } from './ffmpeg-binary';
export { MultipartJpegSplitter, boundaryFromContentType } from './multipart-splitter';
export { JpegSplitter } from './jpeg-splitter';
export { PgmSplitter } from './pgm-splitter';
export { MultipartWriter } from './multipart-writer';
export { ViewerHub } from './viewer-hub';
export { MjpegEndpoint } from './mjpeg-endpoint';
export { MotionDetector } from './motion-detector';
export { MotionEvents } from './motion-events';
export { parseRegions } from './roi';
export { sourceRegistry, SourceRegistry, type SourceHandle } from './source-registry';
export { probeHwaccels, reprobe, type ProbeReport, type ProbeEntry, type ProbeOptions } from './hwaccel-probe';
export { planFor, hardwarePlan, softwarePlan, type HwaccelPlan, type HwaccelMode, type HwMethod } from './hwaccel-args';
export { HwaccelFallback, hardwareErrorIn, type AccelerationHealth, type FallbackOptions } from './hwaccel-fallback';
export type { Frame, GrayFrame, StreamState, StreamStats } from './types';
