/**
 * Text free of secrets: for FFmpeg's stderr, reasons, logs and status. Credentials only ever go into FFmpeg's
 * argument array; everything a person can read passes through redact().
 */

const REDACTED = '***';
/** Userinfo in any URL: scheme://user:pass@ (up to the last '@' before the path). */
const USERINFO_RE = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;
/** Query parameters that commonly carry secrets. */
const QUERY_SECRET_RE = /([?&;](?:password|passwd|pwd|pass|token|access_token|auth|api_?key|key|secret|sig|signature)=)[^&\s#'"]*/gi;

/**
 * Removes the given secrets (as given and percent-encoded), any userinfo in URLs and secret-looking query
 * parameters from text such as FFmpeg's stderr. Every non-empty secret is removed, however short.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = String(text);
  const list = new Set<string>();
  for (const s of secrets) {
    if (typeof s === 'string' && s.length > 0) {
      list.add(s);
      list.add(encodeURIComponent(s));
    }
  }
  for (const s of [...list].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
  out = out.replace(USERINFO_RE, `$1${REDACTED}@`);
  out = out.replace(QUERY_SECRET_RE, `$1${REDACTED}`);
  return out;
}
