/**
 * FFmpeg argument building for one persistent capture process: input options per source kind, one filter graph
 * that feeds every output from the same decoded frames, and the outputs on their pipes.
 *
 * Arguments target FFmpeg >= 5.0 (checked against Debian's 5.1) unless `ffmpegVersion` says otherwise: in 4.x
 * the RTSP `-timeout` option meant "listen for an incoming connection" (the socket timeout was `-stimeout`).
 */

import { FFMPEG_BOUNDARY } from '../jpeg/multipart-splitter';
import { normalise, type Box, type CaptureOptions, type Normalised } from './options';
import { hostPort, SourceConfigError } from './source-url';

const RTSP_INPUT = ['-rtsp_transport', 'tcp', '-timeout', '5000000'];
/** FFmpeg < 5: `-timeout` would put the RTSP demuxer in listen mode; the socket timeout was `-stimeout`. */
const RTSP_INPUT_LEGACY = ['-rtsp_transport', 'tcp', '-stimeout', '5000000'];
/**
 * FFmpeg reconnects a stream that ends or drops. Not a connection that fails (-reconnect_on_network_error): the
 * supervisor restarts FFmpeg anyway, and a camera that refuses a second client must be known to do so at once, not
 * after FFmpeg's own retries (about 4 s).
 */
const HTTP_INPUT = ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000'];
/**
 * Live network input: FFmpeg otherwise studies up to 5 s of the stream before its first frame (it waits for the frame
 * rate it cannot read from the stream), which every start, restart and demand switch of a live camera pays. 1 s of
 * stream time is enough to find the video stream; the size comes with the first keyframe, and the fps filter sets
 * the rate. Measured on a live H.264 MPEG-TS stream over HTTP, joined mid-GOP: first frame after 5.5–7.3 s by
 * default, 1.5–2.5 s with this (bench/cpu-per-camera.js measures a viewer's arrival on it).
 */
const LIVE_PROBE = ['-analyzeduration', '1000000'];
/** Errors only: FFmpeg's progress line and banner would bury the one line that says what went wrong. */
const GLOBAL_ARGS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
/** Only the mapped video goes out: no audio, subtitle or data streams. */
const DROP_OTHER_STREAMS = ['-an', '-sn', '-dn'];

/** The input URL with credentials injected into its userinfo, percent-encoded. Only ever goes into argv. */
function inputWithCredentials(n: Normalised): string {
  if (!n.url || n.user === undefined) return n.input;
  const userinfo = encodeURIComponent(n.user) + (n.pass === undefined ? '' : ':' + encodeURIComponent(n.pass));
  return `${n.url.scheme}://${userinfo}@${hostPort(n.url)}${n.url.rest}`;
}

function versionBelow(v: { major: number; minor: number } | undefined, major: number, minor: number): boolean {
  return v !== undefined && (v.major < major || (v.major === major && v.minor < minor));
}

function inputArgs(n: Normalised, version: { major: number; minor: number } | undefined): string[] {
  switch (n.kind) {
    case 'rtsp':
      return [...(versionBelow(version, 5, 0) ? RTSP_INPUT_LEGACY : RTSP_INPUT), ...LIVE_PROBE];
    case 'http':
      return [...HTTP_INPUT, ...LIVE_PROBE];
    case 'mjpeg-http':
      // An MJPEG camera whose multipart stream FFmpeg's reader gives up on (stream/camera-access.ts): FFmpeg's reader
      // trusts every part's Content-Length, and VLC's first part to each client names another frame's length. Its
      // JPEGs are then found by their markers (a frame interval later: a JPEG's end is known when the next starts).
      // The demuxer stamps 25 fps whatever the camera sends; the rate limit counts by the wall clock instead
      // (rateClock). Arrival stamps (-use_wallclock_as_timestamps) are no better: two JPEGs read at once get the same
      // one, and the encoder stops on it ("Invalid pts (0) <= last (0)").
      return [...HTTP_INPUT, ...LIVE_PROBE, '-f', 'mjpeg'];
    case 'file':
      return [...(n.loop ? ['-stream_loop', '-1'] : []), ...(n.realtime ? ['-re'] : [])];
    case 'device':
      return ['-f', 'v4l2'];
    case 'testsrc':
      // lavfi sources run as fast as the CPU allows unless paced.
      return ['-re', '-f', 'lavfi'];
  }
}

/**
 * Frames a rate limit lets through back to back before it holds frames back: half a second's worth, at least two.
 * A camera at the stream's own rate must keep every frame however unevenly they come: VLC sends pairs 40/160 ms apart,
 * and on a loaded machine frames of any camera arrive in bursts of three and more (a two-frame bucket dropped 5 to
 * 10% of a motion daemon's and VLC's frames at a load of 10). A faster camera is still thinned to the rate on average.
 */
export function rateBurst(fps: number): number {
  return Math.max(2, Math.ceil(fps / 2));
}

/**
 * Thins the decoded frames to `fps` on average, never adding one: a token bucket of rateBurst(fps) frames refilled at
 * `fps` per second of its clock (see RateClock; select's registers: 0 tokens, 1 the last time, 2 started).
 * FFmpeg's `fps` filter makes a constant rate instead: it duplicates frames to fill gaps and drops by rounding, so
 * a camera that paces unevenly (VLC sends pairs 40/160 ms apart) or sends fewer frames than asked lost pictures and
 * got doubled ones (102 distinct pictures of 197 sent). Frames without a timestamp pass.
 */
export function rateLimit(fps: number, clock: RateClock = 'stream'): string {
  const t = clock === 'wall' ? 'time(0)' : 't';
  const burst = rateBurst(fps);
  const bucket = `if(ld(2)\\,min(${burst}\\,ld(0)+max(0\\,${t}-ld(1))*${fps})\\,${burst})`;
  return `select=st(0\\,${bucket})\\;st(1\\,${t})\\;st(2\\,1)\\;if(isnan(${t})+gte(ld(0)\\,1)\\,st(0\\,ld(0)-1)*0+1\\,0)`;
}

/**
 * The clock a rate limit counts by: the stream's timestamps, or the wall clock when frames are decoded. A camera
 * read over HTTP may carry no timestamps (MJPEG over HTTP: FFmpeg's demuxer stamps 25 fps whatever the camera
 * sends, so a 10 fps camera kept 14 of 35 frames); FFmpeg decodes such frames as they arrive, so the wall clock is
 * their true pace, whatever the camera sent and whatever its Content-Type said.
 */
export type RateClock = 'stream' | 'wall';

function rateClock(n: Normalised): RateClock {
  return n.kind === 'http' || n.kind === 'mjpeg-http' ? 'wall' : 'stream';
}

/** The fd each output is written to: JPEG on pipe:1 (stdout), gray outputs from pipe:3 on, in `grays` order. */
export function grayPipe(index: number): number {
  return 3 + index;
}

/** Filter-graph pad labels a, b, c, …: the first outputs keep the names earlier versions used. */
function label(i: number): string {
  return String.fromCharCode(97 + i);
}

/** The argument array (never a shell string) for one persistent capture process. */
export function buildArgs(o: CaptureOptions): string[] {
  const n = normalise(o);
  if (n.passthrough) throw new SourceConfigError('A pass-through capture runs no FFmpeg');
  const plan = n.plan;
  const threads = n.decoderThreads > 0 ? ['-threads', String(n.decoderThreads)] : [];
  const args = [...GLOBAL_ARGS, ...(plan ? plan.inputArgs : n.hwaccelArgs), ...inputArgs(n, o.ffmpegVersion), ...threads, ...n.extraInputArgs, '-i', inputWithCredentials(n)];
  const fps = rateLimit(n.fps, rateClock(n));
  // The hardware plan scales on the GPU and brings frames back to memory; software scales here.
  const scale = plan ? plan.scaleChain(n.width ? { width: n.width } : undefined, 'yuv420p') : n.width ? `scale=${n.width}:-2` : undefined;
  const grayChain = (g: Box): string => plan
    ? plan.scaleChain(g, 'gray')
    // Luma only, averaged down (area): a third of the work of scaling all planes, and the averaging smooths sensor
    // noise before motion analysis. format=gray last keeps 8 bits when the source has 10.
    : `extractplanes=y,scale=w=${g.width}:h=${g.height}:force_original_aspect_ratio=decrease:flags=area,format=gray`;
  // Every n-th frame by its index after the fps filter, so the k-th JPEG is frame k*n of the gray outputs.
  const select = n.jpegEvery > 1 ? `select=not(mod(n\\,${n.jpegEvery}))` : undefined;
  // Every output takes exactly the frames its chain gives it: the n-th frame of each output is the same picture, which
  // pairing by index relies on. By default FFmpeg may duplicate frames per output to fill timestamp gaps: with a live
  // camera's start (timestamps far from zero) the gray output gained 10-16 frames the JPEG output did not, pairing
  // each JPEG with a picture a second and more away and holding gray frames back in bursts. Thinned JPEG outputs
  // (select) need it anyway, or the muxer fills the gaps they leave.
  const passthrough = versionBelow(o.ffmpegVersion, 5, 1) ? ['-vsync', 'passthrough'] : ['-fps_mode', 'passthrough'];
  // mpjpeg: every JPEG preceded by its Content-length, so the splitter never scans image bytes for markers.
  // Slice threads, not frame threads: the encoder's frame threading holds each JPEG back until later frames come
  // (about 150 ms at 10 fps; a whole still interval on a thinned output), slices parallelise without a delay.
  const jpegOut = [...passthrough, '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(n.quality), '-thread_type', 'slice',
    '-f', 'mpjpeg', '-boundary_tag', FFMPEG_BOUNDARY, 'pipe:1'];
  const jpegChain = [select, scale].filter((f) => f !== undefined && f !== 'null').join(',');
  if (n.grays.length === 0 && n.thumbs.length === 0) {
    args.push('-map', '0:v:0', '-vf', jpegChain ? `${fps},${jpegChain}` : fps, ...DROP_OTHER_STREAMS, ...jpegOut);
    return args;
  }
  const chains: string[] = [];
  if (n.jpeg) chains.push(jpegChain || 'null');
  for (const g of n.grays) chains.push(grayChain(g));
  for (const w of n.thumbs) {
    chains.push([select, plan ? plan.scaleChain({ width: w }, 'yuv420p') : `scale=${w}:-2`].filter((f) => f !== undefined).join(','));
  }
  const graph = chains.length === 1
    ? `[0:v]${fps},${chains[0]}[out1]`
    : `[0:v]${fps},split=${chains.length}${chains.map((_, i) => `[${label(i)}]`).join('')};` +
      chains.map((c, i) => `[${label(i)}]${c}[out${i + 1}]`).join(';');
  args.push('-filter_complex', graph);
  let out = 1;
  if (n.jpeg) args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...jpegOut);
  n.grays.forEach((_, i) => {
    args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...passthrough, '-c:v', 'pgm', '-f', 'image2pipe', `pipe:${grayPipe(i)}`);
  });
  n.thumbs.forEach((_, i) => {
    args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...jpegOut.slice(0, -1), `pipe:${grayPipe(n.grays.length + i)}`);
  });
  return args;
}
