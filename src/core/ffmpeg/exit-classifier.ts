export type ExitKind = 'clean' | 'transient' | 'permanent';

export interface ExitVerdict {
  kind: ExitKind;
  /** Short, user-facing reason (already free of secrets when the stderr given was). */
  reason: string;
}

/**
 * Errors that a restart cannot fix: the URL, the credentials or our arguments are wrong.
 * Network trouble (refused, timed out, reset, unreachable, end of file) is transient: cameras reboot.
 */
const PERMANENT: ReadonlyArray<[RegExp, string]> = [
  [/401 Unauthorized|Unauthorized \(authorization failed\)|authorization failed|401\b.*(?:auth|Unauthorized)/i, 'authentication failed (401): check username and password'],
  [/403 Forbidden/i, 'access forbidden (403)'],
  [/404 Not Found|Server returned 404/i, 'not found (404): check the URL path'],
  [/Protocol not found|Unknown protocol/i, 'unsupported protocol: check the URL scheme'],
  [/No such file or directory/i, 'no such file or device'],
  [/Permission denied/i, 'permission denied'],
  [/Unrecognized option|Option not found|Invalid argument|Error parsing|No such filter|Unknown encoder|Unknown decoder/i, 'FFmpeg rejected the arguments'],
];

export function classifyExit(opts: {
  code: number | null;
  signal: string | null;
  stopRequested: boolean;
  stderrTail: string[];
  spawnError?: string;
}): ExitVerdict {
  if (opts.spawnError) return { kind: 'permanent', reason: opts.spawnError };
  // FFmpeg exits 255 on SIGTERM; any exit after we asked it to stop is a clean stop.
  if (opts.stopRequested) return { kind: 'clean', reason: 'stopped' };
  const text = opts.stderrTail.join('\n');
  for (const [pattern, reason] of PERMANENT) {
    if (pattern.test(text)) return { kind: 'permanent', reason: `${reason}: ${lastMeaningful(opts.stderrTail)}` };
  }
  const last = lastMeaningful(opts.stderrTail);
  if (opts.signal) return { kind: 'transient', reason: `FFmpeg killed by ${opts.signal}${last ? `: ${last}` : ''}` };
  // FFmpeg also exits 0 when its input ends in an error it reported ("Invalid data found when processing input").
  if (opts.code === 0) return { kind: 'transient', reason: last ? `source ended: ${last}` : 'source ended' };
  return { kind: 'transient', reason: last ? `FFmpeg exited (${opts.code}): ${last}` : `FFmpeg exited with status ${opts.code}` };
}

function lastMeaningful(lines: string[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!/^(Conversion failed!|Exiting normally)/.test(line)) return line;
  }
  return '';
}
