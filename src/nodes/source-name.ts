import { safeDecode } from '../core/ffmpeg/source-url';

/**
 * The name a camera gets from its source when its Stream field is empty: what it points at, never a filter option
 * or a secret. The editor names cameras the same way (resources/editor-names.js); test/browser/editor.test.js
 * holds both to one table.
 *
 *   rtsp://user:pw@cam.local:554/live/main?token=x  → cam.local-live-main   (host and path; no credentials, port or query)
 *   http://192.168.1.5/axis-cgi/mjpg/video.cgi      → 192.168.1.5-axis-cgi-mjpg-video
 *   /media/garage.mp4, file:///media/garage.mp4      → garage
 *   /dev/video0                                      → video0
 *   testsrc2=size=1280x720:rate=10, testsrc:color=…  → testsrc2, color (the test pattern, not its options)
 */
export function nameFromSource(source: string): string {
  const s = source.trim();
  if (!s) return '';
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i.exec(s);
  if (url) {
    if (url[1]!.toLowerCase() === 'file') return baseName(safeDecode(url[3]!));
    const host = url[2]!.replace(/^.*@/, '').replace(/:\d*$/, '').replace(/^\[(.*)\]$/, '$1');
    const segments = url[3]!.split('/').filter((p) => p !== '').map(safeDecode);
    if (segments.length > 0) segments[segments.length - 1] = withoutExtension(segments[segments.length - 1]!);
    return [host, ...segments].filter((p) => p !== '').join('-');
  }
  const pattern = /^(?:testsrc:\s*)?([a-z0-9_]+)=/i.exec(s) ?? /^testsrc:\s*([a-z0-9_]+)\s*$/i.exec(s);
  if (pattern) return pattern[1]!;
  return baseName(s);
}

function baseName(p: string): string {
  return withoutExtension(p.split(/[\\/]/).filter((x) => x !== '').pop() ?? '');
}

function withoutExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}
