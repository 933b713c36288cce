'use strict';
// A local MJPEG camera for tests: a real HTTP server on 127.0.0.1 whose each request is answered by the test's
// handler, with the connection bookkeeping tests assert on (open sockets, connections, requests seen).
const http = require('node:http');
const https = require('node:https');

/** One multipart part as cameras write it: delimiter line, headers, blank line, body, CRLF. */
function part(body, { boundary = 'cam', headers, dashes = '--' } = {}) {
  const h = headers ?? ['Content-Type: image/jpeg', `Content-Length: ${body.length}`];
  return Buffer.concat([Buffer.from(`${dashes}${boundary}\r\n${h.map((x) => `${x}\r\n`).join('')}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
}

/**
 * Starts a camera. `handler(req, res, cam)` answers each request. `tls` ({ key, cert }) serves https. `maxClients`:
 * connections past that many open ones are reset at once, as a camera with one server task (an ESP32-CAM) does.
 * Returns { url, port, requests, open, connections, refused, every(res, ms, fn), close() }.
 */
async function startCamera(handler, { tls, maxClients = Infinity } = {}) {
  const sockets = new Set();
  const timers = new Set();
  const requests = [];
  let connections = 0;
  let refused = 0;
  const onRequest = (req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    handler(req, res, cam);
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  server.on(tls ? 'secureConnection' : 'connection', (socket) => {
    if (sockets.size >= maxClients) {
      refused++;
      socket.destroy();
      return;
    }
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const cam = {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    /** Sockets open now, as the server sees them. */
    get open() {
      return sockets.size;
    },
    /** Connections accepted so far. */
    get connections() {
      return connections;
    },
    /** Connections reset because maxClients were open. */
    get refused() {
      return refused;
    },
    /** Calls fn(i) every ms until it returns false or the response closes. */
    every(res, ms, fn) {
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed || fn(i++) === false) {
          clearInterval(t);
          timers.delete(t);
        }
      }, ms);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    },
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return cam;
}

/** Serves `frames` (in order, looping) as multipart parts every `ms`; `makePart(jpeg, i)` may change the framing. */
function serveFrames(frames, { ms = 20, boundary = 'cam', contentType, makePart } = {}) {
  return (req, res, cam) => {
    res.writeHead(200, { 'Content-Type': contentType ?? `multipart/x-mixed-replace; boundary=${boundary}`, 'Cache-Control': 'no-cache' });
    cam.every(res, ms, (i) => {
      const f = frames[i % frames.length];
      res.write(makePart ? makePart(f, i) : part(f, { boundary }));
    });
  };
}

module.exports = { startCamera, serveFrames, part };
