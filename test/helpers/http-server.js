'use strict';
// A plain HTTP (or raw TCP) server on 127.0.0.1 for tests that drive the core classes, FFmpeg or a page without
// a camera of their own.
const http = require('node:http');
const net = require('node:net');

/** Every server listen() started, with the connections still open on it. */
const open = new WeakMap();

/**
 * Resolves to a server listening on 127.0.0.1 at `port` (0: a free one): a new HTTP server answering with
 * `handler`, or, given a server (net or http), that one. Its connections are kept so that closeServer can end
 * those an HTTP server does not know of (a raw TCP server's, for a fake RTSP camera).
 */
function listen(handlerOrServer, port = 0) {
  const server = typeof handlerOrServer === 'function' ? http.createServer(handlerOrServer) : handlerOrServer;
  const sockets = new Set();
  open.set(server, sockets);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A port still taken (listening again on a fixed one) fails the test at once instead of hanging it.
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The connections still open on a server that listen() started. */
function connectionsOf(server) {
  return open.get(server);
}

/** Closes the server and every connection still open on it. */
function closeServer(server) {
  for (const s of open.get(server) ?? []) s.destroy();
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A loopback port free now (whoever binds it does so a moment later: a camera, Prometheus). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

module.exports = { listen, closeServer, connectionsOf, freePort };
