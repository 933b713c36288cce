import type { CaptureOptions } from '../ffmpeg/options';
import type { StreamDefinition } from './model';

/**
 * What a stream has learned about reaching its camera, for the definition in force (by its base signature; a new
 * definition starts afresh): whether it answered with something other than MJPEG (read mode auto then reads it with
 * FFmpeg) and whether it refused a second connection (outputs then change by reconnecting, never two at once).
 */
export class CameraAccess {
  private notMjpeg: string | undefined;
  private oneClient: string | undefined;

  /**
   * The definition with its way of reading decided: in read mode auto an http(s) camera is read by our own client
   * (pass-through) until it answers with something other than MJPEG, then by FFmpeg.
   */
  howRead(def: StreamDefinition, base: string): StreamDefinition {
    if (def.read === undefined || def.read === 'ffmpeg') return def;
    const passthrough = def.read === 'passthrough' || (isHttpSource(def.capture) && this.notMjpeg !== base);
    return passthrough === (def.capture.passthrough === true) ? def : { ...def, capture: { ...def.capture, passthrough } };
  }

  /** The camera answered with something other than MJPEG; true when that changes how it is read (mode auto, first time). */
  answeredNotMjpeg(def: StreamDefinition, base: string): boolean {
    if (def.read !== 'auto' || this.notMjpeg === base) return false;
    this.notMjpeg = base;
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
