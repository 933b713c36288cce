import { readFileSync } from 'node:fs';

const FILES = ['/proc/net/tcp', '/proc/net/tcp6'];

let cache: { at: number; queues: Map<string, number> | undefined } | undefined;

/**
 * Bytes each TCP connection has sent that its peer has not acknowledged yet (the kernel's send queue), by
 * "localPort/remotePort", read from Linux's /proc/net/tcp and tcp6. What Node reports (writableLength) only grows
 * once the kernel's buffers are full, which for a client that never reads can take megabytes; the peer's
 * acknowledgements stop as soon as its own receive buffer is full. Undefined where /proc/net is not readable
 * (other systems): callers fall back to Node's view.
 *
 * Reading the tables costs the kernel about 5 ms each however few sockets there are (it walks its whole connection
 * hash), so every caller says how old an answer may be, and one read serves them all.
 */
export function tcpSendQueues(maxAgeMs: number, now = performance.now()): Map<string, number> | undefined {
  if (cache && now - cache.at < maxAgeMs) return cache.queues;
  cache = { at: now, queues: readQueues() };
  return cache.queues;
}

function readQueues(): Map<string, number> | undefined {
  const out = new Map<string, number>();
  let read = false;
  for (const file of FILES) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    read = true;
    let at = text.indexOf('\n') + 1;
    while (at > 0 && at < text.length) {
      const end = text.indexOf('\n', at);
      const line = text.slice(at, end < 0 ? text.length : end);
      at = end < 0 ? -1 : end + 1;
      // "  sl: local:port remote:port st tx_queue:rx_queue ..." (addresses in hex, 8 or 32 digits)
      const f = line.trim().split(/\s+/, 5);
      if (f.length < 5) continue;
      const local = parseInt(f[1]!.slice(f[1]!.indexOf(':') + 1), 16);
      const remote = parseInt(f[2]!.slice(f[2]!.indexOf(':') + 1), 16);
      const tx = parseInt(f[4]!.slice(0, f[4]!.indexOf(':')), 16);
      if (Number.isFinite(tx)) out.set(`${local}/${remote}`, tx);
    }
  }
  return read ? out : undefined;
}
