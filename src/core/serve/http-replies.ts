import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import type { MultipartWriter } from '../jpeg/multipart-writer';
import type { PartOut } from './viewer';

/** Seconds a refused client is asked to wait before it tries again. */
export const RETRY_AFTER_S = '5';

/** A still: the JPEG with headers that keep every cache from serving it again. */
export function sendJpeg(res: ServerResponse, jpeg: Buffer, head: boolean): void {
  res.writeHead(200, {
    'Content-Type': 'image/jpeg',
    'Content-Length': String(jpeg.length),
    'Cache-Control': 'no-cache, no-store, must-revalidate, private, max-age=0',
    Pragma: 'no-cache',
    Expires: '0',
  });
  if (head) res.end();
  else res.end(jpeg);
}

/** A refusal a person or a script can read, with Retry-After. */
export function refuse(res: ServerResponse, status: 503 | 429, reason: string): void {
  const body = `${status} ${status === 429 ? 'Too Many Requests' : 'Service Unavailable'}: ${reason}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Retry-After': RETRY_AFTER_S,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/** Where an admitted stream response's parts go, and what the hub needs to know of its connection. */
export interface StreamReply {
  /** The response's socket, when parts can go straight to it. */
  socket?: PartOut;
  ports?: { local: number; remote: number };
}

/**
 * Writes the head of a multipart stream response and says where its parts go; undefined for a HEAD request (answered
 * and ended here).
 */
export function startStreamReply(req: IncomingMessage, res: ServerResponse, writer: MultipartWriter): StreamReply | undefined {
  const socket = res.socket!;
  const head = req.method === 'HEAD';
  // The body needs no chunked framing: it ends with the connection (`Connection: close`), as mjpg-streamer
  // and motion send it. Without chunk headers every part can go to the socket as it is.
  if (!head) res.useChunkedEncodingByDefault = false;
  res.writeHead(200, writer.responseHeaders(head));
  if (head) {
    res.end();
    return undefined;
  }
  // Frames are written whole; Nagle would hold back each frame's tail.
  socket.setNoDelay(true);
  // Clients (Home Assistant, ffmpeg) wait for the headers; without this they come with the first part.
  res.flushHeaders();
  // Straight to the socket when the head is already on it (the response owns the socket, not queued behind a
  // pipelined one) and no middleware wrapped res.write (compression, say), which a socket write would bypass.
  const direct = !res.chunkedEncoding && res.write === OutgoingMessage.prototype.write && res.writableLength === socket.writableLength;
  const ports = socket.localPort !== undefined && socket.remotePort !== undefined ? { local: socket.localPort, remote: socket.remotePort } : undefined;
  return { ...(direct ? { socket } : {}), ...(ports ? { ports } : {}) };
}
