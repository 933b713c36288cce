// Camera and stream names in the editor, as the runtime gives them: nameFromSource in src/nodes/source-name.ts and
// streamNameOf in src/nodes/stream-ref.ts (test/browser/editor.test.js holds both to one table). Node-RED serves this
// folder as resources/node-red-contrib-glimpser/; the camera, mjpeg out and motion dialogs load it.
(function () {
  'use strict';
  if (window.glimpserNames) return;

  function safeDecode(text) {
    try {
      return decodeURIComponent(text);
    } catch (e) {
      return text;
    }
  }
  function withoutExtension(name) {
    var dot = name.lastIndexOf('.');
    return dot > 0 ? name.slice(0, dot) : name;
  }
  function baseName(p) {
    var parts = p.split(/[\\/]/).filter(function (x) { return x !== ''; });
    return withoutExtension(parts.length ? parts[parts.length - 1] : '');
  }

  /** What a source points at: host and path of a URL, a file's name, a device, a test pattern; never options or secrets. */
  function fromSource(source) {
    var s = String(source || '').trim();
    if (!s) return '';
    var url = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i.exec(s);
    if (url) {
      if (url[1].toLowerCase() === 'file') return baseName(safeDecode(url[3]));
      var host = url[2].replace(/^.*@/, '').replace(/:\d*$/, '').replace(/^\[(.*)\]$/, '$1');
      var segments = url[3].split('/').filter(function (p) { return p !== ''; }).map(safeDecode);
      if (segments.length) segments[segments.length - 1] = withoutExtension(segments[segments.length - 1]);
      return [host].concat(segments).filter(function (p) { return p !== ''; }).join('-');
    }
    var pattern = /^(?:testsrc:\s*)?([a-z0-9_]+)=/i.exec(s) || /^testsrc:\s*([a-z0-9_]+)\s*$/i.exec(s);
    if (pattern) return pattern[1];
    return baseName(s);
  }

  /** The stream a camera node defines: its Stream field, else a name from its source. */
  function streamName(camera) {
    return String(camera.name || '').trim() || fromSource(camera.source);
  }

  /**
   * The stream of the one camera upstream of `node`, through any nodes and link nodes between: the runtime's choice
   * when the node's own Stream field is empty (findStream in src/nodes/stream-ref.ts; none or several: undefined).
   */
  function wiredStream(node) {
    var found = window.glimpserEditor ? window.glimpserEditor.upstreamStreams(window.glimpserEditor.flowDefs(), node.id, streamName) : [];
    return found.length === 1 ? found[0].name : undefined;
  }

  /** "<base> 1", "<base> 2", …: the first that no other camera's stream is called. */
  function newCameraName(self, base) {
    var taken = {};
    RED.nodes.eachNode(function (n) {
      if (n.type === 'glimpser-ffmpeg-source' && n !== self && n.id !== self.id) taken[streamName(n)] = true;
    });
    for (var i = 1; ; i++) if (!taken[base + ' ' + i]) return base + ' ' + i;
  }

  /** A name the editor gave (not one the user typed): it may follow the source or make way for a free one. */
  function isGivenName(name, base) {
    return new RegExp('^' + base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + ' \\d+$').test(String(name || '').trim());
  }

  window.glimpserNames = { fromSource: fromSource, streamName: streamName, wiredStream: wiredStream, newCameraName: newCameraName, isGivenName: isGivenName };
})();
