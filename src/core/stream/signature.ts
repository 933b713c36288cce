/**
 * Keys under which captures share a process or a connection: the normalised source and output settings.
 * Credentials enter only as a keyed hash that is meaningful inside this process alone.
 */

import { createHmac, randomBytes } from 'node:crypto';
import { boxKey, normalise, type CaptureOptions, type Normalised } from '../ffmpeg/options';
import { hostPort } from '../ffmpeg/source-url';

/** Per-process key: credential hashes in signatures compare equal within this process and reveal nothing. */
const SIGNATURE_KEY = randomBytes(32);

function canonicalRest(rest: string): string {
  const q = rest.indexOf('?');
  const pathname = (q === -1 ? rest : rest.slice(0, q)) || '/';
  if (q === -1) return pathname;
  // Same parameters in another order address the same stream; a stable sort keeps repeated keys in order.
  const params = rest.slice(q + 1).split('&').filter((p) => p !== '');
  const sorted = params
    .map((p, i) => ({ p, i, k: p.split('=')[0]! }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((x) => x.p);
  return sorted.length ? `${pathname}?${sorted.join('&')}` : pathname;
}

/**
 * A key under which two captures with the same source and output settings can share one process.
 * Credentials enter only as a keyed hash that is meaningful inside this process alone.
 */
export function sourceSignature(o: CaptureOptions): string {
  return signatureOf(normalise(o));
}

/**
 * The signature without outputs or hardware plan: two captures with the same base read the same pictures, so one
 * may take over from the other without a gap (make before break).
 */
export function baseSignature(o: CaptureOptions): string {
  return signatureOf(normalise({ ...o, gray: undefined, thumbs: undefined, jpeg: true, jpegEvery: 1, plan: undefined, hwaccelArgs: undefined }));
}

/** Where pass-through captures of one camera share a connection: the source and credentials, nothing else. */
export function connectionSignature(o: CaptureOptions): string {
  const n = normalise(o);
  return signatureOf(n).split('|').slice(0, 3).join('|');
}

function signatureOf(n: Normalised): string {
  const src = n.url ? `${n.url.scheme}://${hostPort(n.url)}${canonicalRest(n.url.rest)}` : n.input;
  const cred = n.user === undefined
    ? '-'
    : createHmac('sha256', SIGNATURE_KEY).update(`${n.user}\0${n.pass ?? ''}`).digest('hex').slice(0, 16);
  const parts = [
    n.kind, src, `cred=${cred}`, `fps=${n.fps}`, `w=${n.width ?? 0}`, `q=${n.quality}`,
    `loop=${n.loop ? 1 : 0}`, `re=${n.realtime ? 1 : 0}`,
    `gray=${n.grays.length ? n.grays.map(boxKey).join(',') : '-'}`,
    `jpeg=${n.jpeg ? n.jpegEvery : 0}`,
    `thumbs=${n.thumbs.join(',') || '-'}`,
    `hw=${n.plan ? n.plan.label : JSON.stringify(n.hwaccelArgs)}`, `extra=${JSON.stringify(n.extraInputArgs)}`,
    `pass=${n.passthrough ? 1 : 0}`,
    `threads=${n.decoderThreads}`,
  ];
  return parts.join('|');
}
