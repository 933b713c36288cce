'use strict';
// A real `node-red` process (the release helpers/node-red.js chose) in a temporary user directory with our package
// linked in, or in a user directory the caller prepared (`userDir`: what is installed there is what loads).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const { redJs } = require('./node-red');

const root = path.resolve(__dirname, '..', '..');

/** `settings`: extra entries for settings.js, as JavaScript source (e.g. an adminAuth with functions). */
async function startNodeRed(flows, { env = {}, userDir: preparedDir, settings = '' } = {}) {
  const userDir = preparedDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-nr-'));
  if (!preparedDir) {
    fs.mkdirSync(path.join(userDir, 'node_modules'));
    fs.symlinkSync(root, path.join(userDir, 'node_modules', 'node-red-contrib-glimpser'), 'dir');
  }
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = { uiPort: 0, uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false,
      logging: { console: { level: 'info' } }, editorTheme: { tours: false }, diagnostics: { enabled: false }, telemetry: { enabled: false },
      ${settings} };`,
  );
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node-red did not start:\n${output}`)), 30000);
    const onData = (chunk) => {
      output += chunk;
      const m = /Server now running at http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`node-red exited (${code}):\n${output}`)));
  });
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const cleanup = () => fs.rmSync(userDir, { recursive: true, force: true });
  return {
    child,
    port,
    userDir,
    output: () => output,
    exited,
    deploy: (newFlows) => request(port, 'POST', '/flows', newFlows, { 'Node-RED-Deployment-Type': 'full' }),
    cleanup,
    /** SIGTERM if it still runs, its exit, then its user folder removed. */
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      cleanup();
    },
  };
}

function request(port, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers: { ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

module.exports = { startNodeRed, request };
