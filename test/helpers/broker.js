'use strict';
// A real MQTT broker for tests: the one MQTT_URL names (CI: Debian's Mosquitto), else aedes in this process.
const net = require('node:net');

/** aedes on 127.0.0.1 (port 0: any free port). close() stops it and forgets every retained message. */
async function startAedes(port = 0) {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = server.address().port;
  return {
    host: '127.0.0.1',
    port: bound,
    url: `mqtt://127.0.0.1:${bound}`,
    kind: 'aedes',
    close: () => new Promise((resolve) => {
      // Connected clients would keep the server open: end them with the broker.
      broker.close(() => server.close(() => resolve()));
    }),
  };
}

async function startBroker() {
  if (process.env.MQTT_URL) {
    const url = new URL(process.env.MQTT_URL);
    return { host: url.hostname, port: Number(url.port || 1883), url: process.env.MQTT_URL, close: async () => {}, kind: 'external' };
  }
  return startAedes();
}

module.exports = { startBroker, startAedes };
