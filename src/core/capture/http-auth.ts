/**
 * HTTP authentication for camera streams: Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256 and their -sess
 * variants, qop=auth, auth-int for a bodiless GET, or the RFC 2069 form without qop; userhash when asked).
 * Pure functions: the caller decides when to answer a challenge (once per connection attempt).
 */

import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  /** Lower case: 'basic', 'digest', 'bearer', ... */
  scheme: string;
  /** Parameter names in lower case, values unquoted. */
  params: Record<string, string>;
}

const TOKEN_RE = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

/**
 * Parses WWW-Authenticate values (one per header line; a line may hold several challenges separated by commas).
 * Unknown syntax is skipped rather than thrown on: a camera's odd header must not crash the source.
 */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const s of values) {
    let cur: Challenge | undefined;
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (c === ' ' || c === '\t' || c === ',') {
        i++;
        continue;
      }
      TOKEN_RE.lastIndex = i;
      const m = TOKEN_RE.exec(s);
      if (!m) {
        i++; // a stray character
        continue;
      }
      const token = m[0];
      i += token.length;
      let j = i;
      while (s[j] === ' ' || s[j] === '\t') j++;
      if (s[j] === '=' && cur) {
        j++;
        while (s[j] === ' ' || s[j] === '\t') j++;
        let value = '';
        if (s[j] === '"') {
          j++;
          while (j < s.length && s[j] !== '"') {
            if (s[j] === '\\' && j + 1 < s.length) j++;
            value += s[j];
            j++;
          }
          j++; // closing quote
        } else {
          TOKEN_RE.lastIndex = j;
          const v = TOKEN_RE.exec(s);
          if (v) {
            value = v[0];
            j += value.length;
          }
        }
        cur.params[token.toLowerCase()] = value;
        i = j;
      } else if (s[j] === '=') {
        // token68 padding or a parameter before any scheme: not a challenge we can use.
        i = j + 1;
      } else {
        cur = { scheme: token.toLowerCase(), params: {} };
        out.push(cur);
      }
    }
  }
  return out;
}

const DIGEST_ALGORITHMS: Record<string, string> = {
  'md5': 'md5',
  'md5-sess': 'md5',
  'sha-256': 'sha256',
  'sha-256-sess': 'sha256',
};

/** What the client answers: one of the server's challenges, chosen once. */
export type AuthChoice =
  | { scheme: 'basic' }
  | { scheme: 'digest'; realm: string; nonce: string; opaque?: string; algorithm: string; qop?: 'auth' | 'auth-int'; userhash: boolean; nc: number };

/**
 * Picks the challenge to answer: the first Digest challenge (in the server's order of preference, RFC 7616 3.7)
 * whose algorithm and qop we support, else Basic. Returns a reason listing the offered schemes when none fits.
 */
export function chooseAuth(challenges: readonly Challenge[]): AuthChoice | { unsupported: string } {
  for (const c of challenges) {
    if (c.scheme !== 'digest') continue;
    const algorithm = (c.params.algorithm ?? 'MD5').toUpperCase();
    if (!DIGEST_ALGORITHMS[algorithm.toLowerCase()] || c.params.nonce === undefined) continue;
    let qop: 'auth' | 'auth-int' | undefined;
    if (c.params.qop !== undefined) {
      const offered = c.params.qop.split(',').map((q) => q.trim().toLowerCase());
      if (offered.includes('auth')) qop = 'auth';
      else if (offered.includes('auth-int')) qop = 'auth-int';
      else continue;
    }
    const choice: AuthChoice = {
      scheme: 'digest', realm: c.params.realm ?? '', nonce: c.params.nonce, algorithm, qop,
      userhash: (c.params.userhash ?? '').toLowerCase() === 'true', nc: 0,
    };
    if (c.params.opaque !== undefined) choice.opaque = c.params.opaque;
    return choice;
  }
  if (challenges.some((c) => c.scheme === 'basic')) return { scheme: 'basic' };
  const offered = [...new Set(challenges.map((c) => c.scheme))];
  return { unsupported: offered.length ? offered.join(', ') : 'none' };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The Authorization value for one request under a Digest challenge. Increments `choice.nc`, so a reconnect that
 * reuses the nonce sends the next count. `cnonce` is for tests (RFC 7616's examples); omit it otherwise.
 */
export function digestAuthorization(
  choice: Extract<AuthChoice, { scheme: 'digest' }>,
  req: { method: string; uri: string; username: string; password: string },
  cnonce: string = randomBytes(12).toString('base64url'),
): string {
  const alg = choice.algorithm.toLowerCase();
  const hash = DIGEST_ALGORITHMS[alg]!;
  const H = (s: string): string => createHash(hash).update(s, 'utf8').digest('hex');
  choice.nc += 1;
  const nc = choice.nc.toString(16).padStart(8, '0');
  let ha1 = H(`${req.username}:${choice.realm}:${req.password}`);
  if (alg.endsWith('-sess')) ha1 = H(`${ha1}:${choice.nonce}:${cnonce}`);
  const ha2 = choice.qop === 'auth-int' ? H(`${req.method}:${req.uri}:${H('')}`) : H(`${req.method}:${req.uri}`);
  const response = choice.qop
    ? H(`${ha1}:${choice.nonce}:${nc}:${cnonce}:${choice.qop}:${ha2}`)
    : H(`${ha1}:${choice.nonce}:${ha2}`);
  const username = choice.userhash ? H(`${req.username}:${choice.realm}`) : req.username;
  const parts = [
    `username=${quote(username)}`, `realm=${quote(choice.realm)}`, `nonce=${quote(choice.nonce)}`, `uri=${quote(req.uri)}`,
    `algorithm=${choice.algorithm}`, `response=${quote(response)}`,
  ];
  if (choice.qop) parts.push(`qop=${choice.qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  if (choice.opaque !== undefined) parts.push(`opaque=${quote(choice.opaque)}`);
  if (choice.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}
