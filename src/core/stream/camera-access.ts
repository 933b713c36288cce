import type { CaptureOptions } from '../ffmpeg/options';
import type { StreamDefinition } from './model';

/**
 * What a stream has learned about reaching its camera, for the definition in force (by its base signature; a new
 * definition starts afresh): what it answered (MJPEG or not: how it is read follows) and whether it refused a second
 * connection (outputs then change by reconnecting, never two at once).
 */
export class CameraAccess {
  /** What the camera of the definition with base `answerFor` answered: MJPEG, or something else. */
  private answer: 'mjpeg' | 'other' | undefined;
  private answerFor: string | undefined;
  private oneClient: string | undefined;
  /** The definition whose MJPEG camera FFmpeg's multipart reader gave up on: FFmpeg reads its JPEGs by their markers. */
  private markersOnly: string | undefined;

  /**
   * The definition with its way of reading decided. An http(s) camera is first read by our own client, which learns
   * what it answers: read mode auto keeps it for MJPEG (pass-through) and hands anything else to FFmpeg; read mode
   * ffmpeg hands it to FFmpeg either way. FFmpeg reads a multipart stream with its multipart reader, which takes each
   * JPEG by its Content-Length as soon as it is in; only a camera whose stream that reader gives up on (VLC's first
   * part to each client names another frame's length) is read as JPEGs found by their markers (`-f mjpeg`), which
   * costs a frame interval: the end of a JPEG is known only when the next one starts.
   */
  howRead(def: StreamDefinition, base: string): StreamDefinition {
    if (def.read === undefined || (def.read !== 'passthrough' && !isHttpSource(def.capture))) return def;
    const answer = this.answerFor === base ? this.answer : undefined;
    let capture = def.capture;
    if (def.read === 'passthrough' || (def.read === 'auto' && answer !== 'other') || (def.read === 'ffmpeg' && answer === undefined)) {
      capture = { ...capture, passthrough: true };
    } else {
      capture = { ...capture, passthrough: false, kind: answer === 'mjpeg' && this.markersOnly === base ? 'mjpeg-http' : 'http' };
    }
    return capture.passthrough === def.capture.passthrough && capture.kind === def.capture.kind ? def : { ...def, capture };
  }

  /** The camera answered (MJPEG or not); true when that changes how it is read. */
  answered(def: StreamDefinition, base: string, mjpeg: boolean): boolean {
    const before = this.howRead(def, base);
    this.answerFor = base;
    this.answer = mjpeg ? 'mjpeg' : 'other';
    const after = this.howRead(def, base);
    return before.capture.passthrough !== after.capture.passthrough || before.capture.kind !== after.capture.kind;
  }

  /**
   * FFmpeg ended reading a camera that answers MJPEG: true (and remembered) when its multipart reader gave up on the
   * stream ("Expected boundary"), so that FFmpeg reads the camera's JPEGs by their markers from now on.
   */
  multipartRefused(def: StreamDefinition, base: string, stderr: readonly string[]): boolean {
    if (def.read === 'passthrough' || this.answerFor !== base || this.answer !== 'mjpeg' || this.markersOnly === base) return false;
    if (!stderr.some((line) => /\[mpjpeg @|Expected boundary/.test(line))) return false;
    this.markersOnly = base;
    return true;
  }

  /** Whether a second connection to the camera may be opened beside a running one (make before break). */
  allowsTwo(base: string | undefined): boolean {
    return this.oneClient === undefined || this.oneClient !== base;
  }

  /**
   * A successor process ended before its first frame while the process beside it produced: true (and remembered)
   * when that means the camera refused a second connection, which only a camera on the network does, and only for
   * the same input opened twice (another decoding plan, a hardware retry, can fail on its own).
   */
  refusedSecond(base: string, successor: CaptureOptions, running: CaptureOptions): boolean {
    if (!isNetworkSource(successor) || successor.plan?.label !== running.plan?.label) return false;
    this.oneClient = base;
    return true;
  }
}

function isHttpSource(capture: CaptureOptions): boolean {
  const kind = capture.kind;
  if (kind !== undefined) return kind === 'http' || kind === 'mjpeg-http';
  return /^https?:\/\//i.test(capture.source.trim());
}

/** A camera on the network, which may limit its clients (a file, a device or a test pattern opens freely). */
function isNetworkSource(capture: CaptureOptions): boolean {
  if (capture.kind === 'rtsp' || isHttpSource(capture)) return true;
  return capture.kind === undefined && /^rtsps?:\/\//i.test(capture.source.trim());
}
