'use strict';
// A Node-RED runtime from node-red-node-test-helper with its RED.httpNode served on a real HTTP server on 127.0.0.1:
// the helper's own request() reaches only the admin app, and our endpoints live on httpNode.
const http = require('node:http');
const { useRuntime } = require('./node-red');

/**
 * Registers beforeEach/afterEach in the calling describe() and returns the runtime: `load(nodes, flow, opts)` loads
 * the flow and serves httpNode; then `base` (http://127.0.0.1:port), `port` and `httpNode` are set.
 * opts: `settings` (helper.settings, reset after each test), `credentials`, `handler(req, res)` answering first
 * (return true when it did).
 */
function useHttpRuntime(helper) {
  const rt = { server: undefined, httpNode: undefined, port: undefined, base: undefined };
  const capture = (RED) => {
    rt.httpNode = RED.httpNode;
  };
  rt.load = async (nodes, flow, { settings, credentials, handler } = {}) => {
    if (settings) helper.settings(settings);
    await helper.load([...nodes, capture], flow, credentials);
    rt.server = http.createServer((req, res) => (handler && handler(req, res)) || rt.httpNode(req, res));
    await new Promise((r) => rt.server.listen(0, '127.0.0.1', r));
    rt.port = rt.server.address().port;
    rt.base = `http://127.0.0.1:${rt.port}`;
  };
  useRuntime(helper, {
    afterUnload: async () => {
      if (!rt.server) return;
      rt.server.closeAllConnections();
      await new Promise((r) => rt.server.close(r));
      rt.server = undefined;
    },
  });
  return rt;
}

module.exports = { useHttpRuntime };
