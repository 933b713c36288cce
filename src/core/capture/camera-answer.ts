/**
 * What an HTTP camera answered, judged by what it sends rather than by its URL's spelling: a multipart MJPEG stream
 * (declared, or sent as `application/octet-stream` as VLC's and FFmpeg's HTTP servers do by default), JPEGs back to
 * back, or something else (a video stream, an HTML page, a snapshot) that only FFmpeg can read.
 */
import { JpegSplitter } from '../jpeg/jpeg-splitter';
import { MultipartJpegSplitter, boundaryFromContentType, type PartErrorKind, type QuirkKind } from '../jpeg/multipart-splitter';

export type CameraAnswer =
  | { format: 'multipart'; boundary: string | undefined }
  | { format: 'jpegs' }
  | { format: 'other'; what: string };

/** Types whose body says what it is: these are read a little before deciding. */
const UNDECLARED = /^\s*(application\/octet-stream|binary\/octet-stream|application\/x-octet-stream)?\s*(;|$)/i;
/** Enough of a body to tell a multipart stream or a JPEG from anything else. */
export const SNIFF_BYTES = 4;

/** From the Content-Type alone: the answer, or 'sniff' when only the body can tell. */
export function answerFromType(contentType: string): CameraAnswer | 'sniff' {
  if (/^\s*multipart\//i.test(contentType)) return { format: 'multipart', boundary: boundaryFromContentType(contentType) };
  if (UNDECLARED.test(contentType)) return 'sniff';
  return { format: 'other', what: `"${contentType.split(';')[0]!.trim()}"` };
}

/** From the first bytes of a body whose type did not say. */
export function answerFromBody(contentType: string, first: Buffer): CameraAnswer {
  let i = 0;
  while (i < first.length && (first[i] === 0x0d || first[i] === 0x0a || first[i] === 0x20)) i++;
  if (first[i] === 0x2d && first[i + 1] === 0x2d) return { format: 'multipart', boundary: undefined };
  if (first[i] === 0xff && first[i + 1] === 0xd8) return { format: 'jpegs' };
  const type = contentType.trim() ? `"${contentType.split(';')[0]!.trim()}"` : 'no Content-Type';
  const head = [...first.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return { format: 'other', what: `${type} whose body is neither multipart nor JPEG (it starts ${head})` };
}

/** Turns a camera's bytes into JPEGs; reset() says whether a JPEG was cut short. */
export interface FrameReader {
  push(chunk: Buffer): void;
  reset(): boolean;
}

export interface ReaderEvents {
  onFrame: (jpeg: Buffer) => void;
  onError: (message: string, kind: PartErrorKind) => void;
  onOversize: (bytes: number) => void;
  onQuirk: (kind: QuirkKind) => void;
}

/** The reader for an MJPEG answer. Throws (an unusable boundary) like MultipartJpegSplitter. */
export function frameReader(answer: Exclude<CameraAnswer, { format: 'other' }>, maxFrameBytes: number, on: ReaderEvents): FrameReader {
  if (answer.format === 'jpegs') {
    const splitter = new JpegSplitter({ onFrame: on.onFrame, maxFrameBytes, onOversize: on.onOversize });
    return {
      push: (chunk) => splitter.push(chunk),
      reset: () => {
        const cut = splitter.inFrame;
        splitter.reset();
        return cut;
      },
    };
  }
  return new MultipartJpegSplitter({
    // Without a boundary parameter the stream's first line can still name it.
    boundary: answer.boundary ?? 'glimpser-no-boundary',
    boundaryFromStream: answer.boundary === undefined,
    maxFrameBytes,
    ...on,
  });
}
