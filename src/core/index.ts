/**
 * The Node-RED-free core, for use outside Node-RED (scripts, other integrations) and for benchmarks:
 * `require('node-red-contrib-glimpser')` gives these.
 */
export { ProcessPool, type Lease, type PoolOptions } from './stream/pool';
export { Stream, StreamConflictError, type Demand, type StreamDefinition, type StreamFrame, type StateChange, type StreamSnapshot } from './stream/stream';
export { Capture, type CapturedFrame } from './capture/capture';
export { Supervisor, DEFAULT_SUPERVISOR, type SupervisorOptions } from './capture/supervisor';
export { buildArgs } from './ffmpeg/args';
export { displaySource, type CaptureOptions } from './ffmpeg/options';
export { redact } from './ffmpeg/redact';
export { detectKind, SourceConfigError, type SourceKind } from './ffmpeg/source-url';
export { sourceSignature } from './stream/signature';
export { resolveFfmpeg, locateFfmpeg, FfmpegNotFoundError, type FfmpegBinary } from './ffmpeg/binary';
export { MultipartJpegSplitter, boundaryFromContentType, type PartErrorKind, type QuirkKind } from './jpeg/multipart-splitter';
export { MjpegHttpSource, DEFAULT_MJPEG_HTTP, type MjpegHttpSourceOptions, type MjpegHttpSourceStats, type MjpegHttpErrorKind } from './capture/mjpeg-http-source';
export { decodeGray, GrayDecoder, type GrayImage } from './jpeg/jpeg-gray';
export { JpegSplitter } from './jpeg/jpeg-splitter';
export { PgmSplitter } from './jpeg/pgm-splitter';
export { MultipartWriter } from './jpeg/multipart-writer';
export { ViewerHub } from './serve/viewer-hub';
export { MjpegEndpoint } from './serve/mjpeg-endpoint';
export { MotionDetector } from './motion/detector';
export { MotionEvents } from './motion/events';
export { parseRegions } from './motion/roi';
export { Histogram } from './util/histogram';
export { probeHwaccels, reprobe, type ProbeReport, type ProbeEntry, type ProbeOptions } from './hwaccel/probe';
export { hardwarePlan, softwarePlan, type HwaccelPlan, type HwaccelMode, type HwMethod } from './hwaccel/methods';
export { planFor } from './hwaccel/choose';
export { HwaccelFallback, hardwareErrorIn, type AccelerationHealth, type FallbackOptions } from './hwaccel/fallback';
export type { Frame, GrayFrame, StreamState, StreamStats } from './types';
export { StreamMetrics, processMetricsRegistry } from './health/metrics';
export { healthReport, sampleStreams, sampleEach, NO_USAGE, streamFigures, histogramSince, summarise, PASSING_STATES, type StreamSample, type StreamFigures, type HealthReport, type LabelledPool } from './health/health';
export { readProcessUsage, readProcessesUsage, parseProcessUsage, type ProcessUsage } from './ffmpeg/process-usage';
