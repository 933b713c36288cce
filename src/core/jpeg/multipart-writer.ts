/**
 * multipart/x-mixed-replace framing for MJPEG over HTTP. A frame's part (boundary, headers, JPEG,
 * trailing CRLF) is built once into one Buffer and that same Buffer is written to every viewer:
 * one write per viewer per frame, no per-viewer copies or header formatting.
 */

const CRLF = '\r\n';
/** RFC 2046 bchars without space, so it never needs quoting. */
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;

export const DEFAULT_BOUNDARY = 'glimpserframe';

export interface Part {
  /** The whole part on the wire: `--boundary`, headers, blank line, JPEG, CRLF. */
  readonly bytes: Buffer;
  /** The JPEG alone, a view into `bytes`. */
  readonly jpeg: Buffer;
  readonly seq: number;
  /** Epoch ms at which the frame became ready. */
  readonly time: number;
  /** Monotonic ms (performance.now()) at which the part was built: delivery latency is measured from here. */
  readonly readyAt: number;
  readonly placeholder: boolean;
}

export class MultipartWriter {
  readonly boundary: string;

  constructor(boundary: string = DEFAULT_BOUNDARY) {
    if (!BOUNDARY_RE.test(boundary)) throw new Error(`invalid multipart boundary: ${JSON.stringify(boundary)}`);
    this.boundary = boundary;
  }

  contentType(): string {
    return `multipart/x-mixed-replace; boundary=${this.boundary}`;
  }

  /**
   * Response headers for a stream: never cached. The stream's body is not chunked: it ends with the
   * connection, so a GET is answered `Connection: close`; a HEAD answer is complete and keeps its connection.
   */
  responseHeaders(head = false): Record<string, string> {
    return {
      'Content-Type': this.contentType(),
      'Cache-Control': 'no-cache, no-store, must-revalidate, private, max-age=0',
      Pragma: 'no-cache',
      Expires: '0',
      Connection: head ? 'keep-alive' : 'close',
      // Reverse proxies (nginx) would otherwise buffer the endless body.
      'X-Accel-Buffering': 'no',
    };
  }

  part(jpeg: Buffer, seq: number, time: number, placeholder = false): Part {
    // Placeholders are marked so that clients (and tests) can tell them from camera frames.
    const mark = placeholder ? `X-Glimpser-Placeholder: 1${CRLF}` : '';
    const head = Buffer.from(
      `--${this.boundary}${CRLF}Content-Type: image/jpeg${CRLF}Content-Length: ${jpeg.length}${CRLF}${mark}${CRLF}`,
      'latin1',
    );
    const bytes = Buffer.allocUnsafe(head.length + jpeg.length + 2);
    head.copy(bytes, 0);
    jpeg.copy(bytes, head.length);
    bytes[bytes.length - 2] = 0x0d;
    bytes[bytes.length - 1] = 0x0a;
    return { bytes, jpeg: bytes.subarray(head.length, head.length + jpeg.length), seq, time, readyAt: performance.now(), placeholder };
  }
}
