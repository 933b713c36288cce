'use strict';
// The demo flow (examples/demo.json) as `npm start` runs it: its "Home Assistant broker" node, which reaches Home
// Assistant's Mosquitto add-on as imported, pointed at the broker `npm start` runs instead. The address comes from
// environment variables the start script sets at each start, so a kept flow follows the embedded broker's port.

const HOST = '${GLIMPSER_MQTT_HOST}';
const PORT = '${GLIMPSER_MQTT_PORT}';

/** A copy of `flow` whose broker nodes connect to `host`:`port` (environment references by default). */
function withBroker(flow, host = HOST, port = PORT) {
  return flow.map((n) =>
    n.type === 'mqtt-broker'
      ? { ...n, name: 'npm start broker', broker: host, port, info: 'The MQTT broker `npm start` runs (or the one MQTT_URL names): its address comes from GLIMPSER_MQTT_HOST and GLIMPSER_MQTT_PORT, which the start script sets.' }
      : n,
  );
}

module.exports = { withBroker };
