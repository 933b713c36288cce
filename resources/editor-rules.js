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

  /** The value being edited while the dialog is open, else the saved one (`input` is the field's id prefix). */
  function current(node, field, input) {
    var el = $('#' + (input || 'node-input-') + field);
    return el.length ? el.val() : node[field];
  }

  window.glimpserEditor = { ranges: ranges, current: current, normalisePath: normalisePath };
})();
