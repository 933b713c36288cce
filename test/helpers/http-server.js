'use strict';
// A plain HTTP server on 127.0.0.1 for tests that drive the core classes without Node-RED.
const http = require('node:http');

/** Resolves to a server answering with `handler`, listening on a free port of 127.0.0.1. */
function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Closes the server and every connection still open on it. */
function closeServer(server) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

module.exports = { listen, closeServer };
