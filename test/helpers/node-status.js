'use strict';
// What a user reads under a node in the editor, from node-red-node-test-helper's spies (they sit on the Node
// prototype, so a node's own calls are those made on it).

/** The calls of `method` (status, error, warn, ...) made on this node. */
function callsOf(node, method) {
  return node[method].getCalls().filter((c) => c.thisValue === node);
}

/** Every status the node has shown, oldest first. */
function statusesOf(node) {
  return callsOf(node, 'status').map((c) => c.args[0]);
}

/** The status the node shows now ({} after a clear, undefined before any). */
function lastStatus(node) {
  return statusesOf(node).at(-1);
}

/** The viewer count an mjpeg out shows ("3 viewers · 9.8 fps", "1 viewer · …", "0 viewers"), or undefined when it shows none. */
function viewersShown(node) {
  const m = /^(\d+) viewers?\b/.exec(lastStatus(node)?.text ?? '');
  return m ? Number(m[1]) : undefined;
}

module.exports = { callsOf, statusesOf, lastStatus, viewersShown };
