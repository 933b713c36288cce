#!/usr/bin/env node
'use strict';
// `npm start`: a real Node-RED process from this project's own dependencies, our nodes loaded, the demo flow,
// and an in-process MQTT broker (aedes) unless MQTT_URL names one.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { withBroker } = require('./demo-flow');

const root = path.resolve(__dirname, '..');
const userDir = process.env.GLIMPSER_USER_DIR || path.join(root, '.node-red-data');
const port = Number(process.env.PORT || 1880);

function linkPackage() {
  // Node-RED loads packages from <userDir>/node_modules: link this checkout there, as `npm install <dir>` would.
  const modules = path.join(userDir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  const link = path.join(modules, 'node-red-contrib-glimpser');
  try {
    if (fs.realpathSync(link) === root) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch {
    // absent: create it below
  }
  fs.symlinkSync(root, link, 'dir');
}

function installDemoFlow() {
  const flowFile = path.join(userDir, 'flows.json');
  if (fs.existsSync(flowFile) && !process.env.GLIMPSER_RESET_DEMO) {
    console.log(`Keeping your flows in ${flowFile} (GLIMPSER_RESET_DEMO=1 npm start restores the demo).`);
    return;
  }
  const demo = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'demo.json'), 'utf8'));
  fs.writeFileSync(flowFile, `${JSON.stringify(withBroker(demo), null, 2)}\n`);
}

async function startBroker() {
  if (process.env.MQTT_URL) {
    const url = new URL(process.env.MQTT_URL);
    return { host: url.hostname, port: Number(url.port || 1883), close: async () => undefined, embedded: false };
  }
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const wanted = Number(process.env.GLIMPSER_MQTT_PORT || 1883);
  const listen = (p) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
  let bound;
  try {
    bound = await listen(wanted);
  } catch (err) {
    if (err.code !== 'EADDRINUSE') throw err;
    bound = await listen(0); // 1883 taken (a system Mosquitto, say): any free port will do for the demo
  }
  const close = () => new Promise((resolve) => broker.close(() => server.close(() => resolve())));
  return { host: '127.0.0.1', port: bound, close, embedded: true };
}

async function main() {
  fs.mkdirSync(userDir, { recursive: true });
  linkPackage();
  installDemoFlow();
  const mqtt = await startBroker();
  const env = {
    ...process.env,
    GLIMPSER_MQTT_HOST: mqtt.host,
    GLIMPSER_MQTT_PORT: String(mqtt.port),
    PORT: String(port),
  };
  const redJs = require.resolve('node-red/red.js');
  const child = spawn(
    process.execPath,
    ['--require', path.join(__dirname, 'exit-with-parent.js'), redJs, '--userDir', userDir, '--settings', path.join(__dirname, 'settings.js'), '--port', String(port)],
    { cwd: root, env, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let announced = false;
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    const running = /Server now running at https?:\/\/[^:/]+:(\d+)/.exec(chunk.toString());
    if (!announced && running) {
      announced = true;
      const base = `http://127.0.0.1:${running[1]}`;
      console.log('');
      console.log(`  Node-RED editor:   ${base}/`);
      console.log(`  Viewer page:       ${base}/glimpser/`);
      console.log(`  Demo stream:       ${base}/glimpser/demo.mjpg`);
      console.log(`  Demo still image:  ${base}/glimpser/demo.jpg`);
      console.log(`  Metrics:           ${base}/glimpser/metrics`);
      console.log(`  Health:            ${base}/glimpser/health`);
      console.log(`  MQTT broker:       mqtt://${mqtt.host}:${mqtt.port}${mqtt.embedded ? ' (embedded aedes)' : ''}; motion on glimpser/demo/motion`);
      console.log('');
    }
  });
  const stop = (signal) => {
    if (child.exitCode === null) child.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  child.on('exit', async (code, signal) => {
    await mqtt.close();
    process.exit(code ?? (signal ? 0 : 1));
  });
}

main().catch((err) => {
  console.error(`npm start failed: ${err.message}`);
  process.exit(1);
});
