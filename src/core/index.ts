/**
 * The Node-RED-free core, for use outside Node-RED (scripts, other integrations) and for benchmarks:
 * `require('node-red-contrib-glimpser')` gives these.
 */
export { ProcessPool, type Lease, type PoolOptions } from './pool';
export { Stream, StreamConflictError, type Demand, type StreamDefinition, type StreamFrame, type StateChange, type StreamSnapshot } from './stream';
export { Capture, type CapturedFrame } from './capture';
export { Supervisor, DEFAULT_SUPERVISOR, type SupervisorOptions } from './supervisor';
export { buildArgs, detectKind, displaySource, redact, sourceSignature, SourceConfigError, type CaptureOptions, type SourceKind } from './ffmpeg-args';
export { resolveFfmpeg, locateFfmpeg, FfmpegNotFoundError, type FfmpegBinary } from './ffmpeg-binary';
export { MultipartJpegSplitter, boundaryFromContentType, type PartErrorKind, type QuirkKind } from './multipart-splitter';
export { MjpegHttpSource, DEFAULT_MJPEG_HTTP, type MjpegHttpSourceOptions, type MjpegHttpSourceStats, type MjpegHttpErrorKind } from './mjpeg-http-source';
export { decodeGray, GrayDecoder, type GrayImage } from './jpeg-gray';
export { JpegSplitter } from './jpeg-splitter';
export { PgmSplitter } from './pgm-splitter';
export { RawFrameSplitter, type RawFrame, type RawFrameSplitterOptions } from './raw-frame-splitter';
export { JpegEncoder, encodeRaw, sharpQuality, SharpLoadError, FFMPEG_Q_TO_SHARP, type JpegEncoderOptions, type RawFormat } from './jpeg-encoder';
export { MultipartWriter } from './multipart-writer';
export { ViewerHub } from './viewer-hub';
export { MjpegEndpoint } from './mjpeg-endpoint';
export { MotionDetector } from './motion-detector';
export { MotionEvents } from './motion-events';
export { parseRegions } from './roi';
export { Histogram } from './histogram';
export { probeHwaccels, reprobe, type ProbeReport, type ProbeEntry, type ProbeOptions } from './hwaccel-probe';
export { planFor, hardwarePlan, softwarePlan, type HwaccelPlan, type HwaccelMode, type HwMethod } from './hwaccel-args';
export { HwaccelFallback, hardwareErrorIn, type AccelerationHealth, type FallbackOptions } from './hwaccel-fallback';
export type { Frame, GrayFrame, StreamState, StreamStats } from './types';
export { StreamMetrics, processMetricsRegistry } from './metrics';
export { healthReport, sampleStreams, sampleEach, NO_USAGE, streamFigures, histogramSince, summarise, PASSING_STATES, type StreamSample, type StreamFigures, type HealthReport, type LabelledPool } from './health';
export { readProcessUsage, readProcessesUsage, parseProcessUsage, type ProcessUsage } from './process-usage';
