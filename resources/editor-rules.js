// Range checks for our nodes' edit dialogs, written once. Node-RED serves this folder to the editor as
// resources/node-red-contrib-glimpser/ and loads it before the dialogs' own scripts. Each dialog passes its rules
// (what the runtime accepts, src/nodes/field-rules.ts; test/editor.test.js checks both agree) and its catalog prefix,
// so a field's message is the runtime's own wording from nodes/locales.
(function () {
  'use strict';
  if (window.glimpserEditor) return; // every dialog that needs it names it; the first load serves all

  /**
   * prefix: the node's catalog prefix ('mjpeg-out'); rules: {field: {min, max, integer?, zero?}};
   * translate: the node definition's RED._, looked up when a message is needed (the definition is registered later).
   */
  function ranges(prefix, rules, translate) {
    // Empty takes the default; otherwise a number inside the rule. A string result is Node-RED's message.
    function rangeError(field, v) {
      var rule = rules[field];
      if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return null;
      var n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
      var ok = Number.isFinite(n) && ((rule.zero && n === 0) || (n >= rule.min && n <= rule.max && (!rule.integer || Number.isInteger(n))));
      if (ok) return null;
      var text = String(v);
      return translate(prefix + '.errors.' + (rule.zero ? 'rangeIntegerOrZero' : rule.integer ? 'rangeInteger' : 'range'), {
        field: translate(prefix + '.fields.' + field), min: rule.min, max: rule.max, value: text.length > 24 ? text.slice(0, 23) + '…' : text
      });
    }
    /**
     * A validate function for Node-RED: true, or the message saying what is wrong. It must declare two parameters:
     * the editor takes a string result as the message only from a validator whose length is 2 (3.x style).
     */
    function check(field) {
      // eslint-disable-next-line no-unused-vars
      return function (v, opt) {
        return rangeError(field, v) || true;
      };
    }
    return { rangeError: rangeError, check: check };
  }

  // The runtime's path rule (normalisePath in src/core/serve/route-table.ts): '/' added in front, trailing '/' dropped,
  // RFC 3986 path characters between single slashes. test/unit/editor-rules.test.js holds both to one table of paths.
  var PATH_RE = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

  /** A route path as entered, normalised as the runtime does it; undefined when the runtime would refuse it. */
  function normalisePath(input) {
    if (typeof input !== 'string') return undefined;
    var p = input.trim();
    if (!p) return undefined;
    if (p.charAt(0) !== '/') p = '/' + p;
    while (p.length > 1 && p.charAt(p.length - 1) === '/') p = p.slice(0, -1);
    return PATH_RE.test(p) ? p : undefined;
  }

  var SOURCE_TYPE = 'glimpser-ffmpeg-source';

  function listOf(v) {
    return Array.isArray(v) ? v.filter(function (x) { return typeof x === 'string'; }) : [];
  }

  /**
   * The cameras upstream of node `id` in `defs` (nodes in the flow file's shape: id, type, z, d, wires, links, mode),
   * through any nodes between and through link nodes, each stream once ({name, pool}), nearest first. The runtime's
   * upstreamStreams (src/nodes/stream-ref.ts) finds a consumer's stream the same way; test/unit/editor-rules.test.js
   * holds the two to the same flows. `nameOf(def)` names a camera's stream.
   */
  function upstreamStreams(defs, id, nameOf) {
    var disabledTabs = {};
    defs.forEach(function (d) { if (d.type === 'tab' && d.disabled === true) disabledTabs[d.id] = true; });
    var live = defs.filter(function (d) { return d.d !== true && !(d.z !== undefined && disabledTabs[d.z]); });
    var byId = {};
    var feeders = {};
    function feed(target, from) { (feeders[target] = feeders[target] || []).push(from); }
    live.forEach(function (d) { byId[d.id] = d; });
    live.forEach(function (d) {
      (Array.isArray(d.wires) ? d.wires : []).forEach(function (port) { listOf(port).forEach(function (t) { feed(t, d); }); });
      if (d.type === 'link out' && d.mode !== 'return') listOf(d.links).forEach(function (t) { feed(t, d); });
      if (d.type === 'link call') listOf(d.links).forEach(function (t) { feed(t, d); });
    });
    live.forEach(function (d) {
      if (d.type !== 'link in') return;
      listOf(d.links).forEach(function (o) {
        var out = byId[o];
        if (out && out.type === 'link out' && out.mode !== 'return' && listOf(out.links).indexOf(d.id) < 0) feed(d.id, out);
      });
    });
    var streams = [];
    var seen = {};
    seen[id] = true;
    var queue = (feeders[id] || []).slice();
    for (var i = 0; i < queue.length; i++) {
      var n = queue[i];
      if (seen[n.id]) continue;
      seen[n.id] = true;
      if (n.type === SOURCE_TYPE) {
        var ref = { name: nameOf(n), pool: (typeof n.pool === 'string' && n.pool.trim()) || undefined };
        if (!streams.some(function (s) { return s.name === ref.name && s.pool === ref.pool; })) streams.push(ref);
        continue;
      }
      (feeders[n.id] || []).forEach(function (f) { if (!seen[f.id]) queue.push(f); });
    }
    return streams;
  }

  /** The editor's flows in the flow file's shape, for upstreamStreams: tabs, nodes with their wires and links. */
  function flowDefs() {
    var defs = [];
    var byId = {};
    RED.nodes.eachWorkspace(function (ws) { defs.push({ id: ws.id, type: 'tab', disabled: !!ws.disabled }); });
    function add(n) {
      var d = { id: n.id, type: n.type, z: n.z, d: n.d, name: n.name, source: n.source, pool: n.pool, mode: n.mode, links: n.links, wires: [] };
      byId[n.id] = d;
      defs.push(d);
    }
    RED.nodes.eachNode(add);
    // Junctions are kept apart from nodes in the editor; in the flow file they are nodes with wires.
    if (RED.nodes.eachJunction) RED.nodes.eachJunction(function (j) { add({ id: j.id, type: 'junction', z: j.z }); });
    RED.nodes.eachLink(function (l) {
      var d = byId[l.source.id];
      if (!d) return;
      (d.wires[l.sourcePort] = d.wires[l.sourcePort] || []).push(l.target.id);
    });
    return defs;
  }

  /** The value being edited while the dialog is open, else the saved one (`input` is the field's id prefix). */
  function current(node, field, input) {
    var el = $('#' + (input || 'node-input-') + field);
    return el.length ? el.val() : node[field];
  }

  window.glimpserEditor = { ranges: ranges, current: current, normalisePath: normalisePath, upstreamStreams: upstreamStreams, flowDefs: flowDefs };
})();
