'use strict';
// The Node-RED every test runs against, chosen in this one place. By default it is this project's devDependency;
// GLIMPSER_NODE_RED_DIR names a folder where another release is installed (`npm install node-red@5` there), so
// `.ci/run` runs the same suite on Node-RED 5 without touching this project's node_modules.
const fs = require('node:fs');
const path = require('node:path');

const override = process.env.GLIMPSER_NODE_RED_DIR ? path.resolve(process.env.GLIMPSER_NODE_RED_DIR) : undefined;

function findNodeRedDir() {
  const pkgJson = require.resolve('node-red/package.json', { paths: [override ?? __dirname] });
  const dir = fs.realpathSync(path.dirname(pkgJson));
  // require.resolve walks up past the folder; a Node-RED found above it would silently test the wrong release.
  if (override && !dir.startsWith(fs.realpathSync(override) + path.sep)) {
    throw new Error(`GLIMPSER_NODE_RED_DIR=${override} holds no node-red (found ${dir}); run \`npm install node-red\` there`);
  }
  return dir;
}

const nodeRedDir = findNodeRedDir();
const nodeRedVersion = JSON.parse(fs.readFileSync(path.join(nodeRedDir, 'package.json'), 'utf8')).version;

/** The CLI entry, for tests that start Node-RED as a process. */
const redJs = path.join(nodeRedDir, 'red.js');

/** A module of that Node-RED's own tree, such as its core nodes ('@node-red/nodes/core/network/10-mqtt.js'). */
function requireFromNodeRed(id) {
  return require(require.resolve(id, { paths: [nodeRedDir] }));
}

/** node-red-node-test-helper bound to that Node-RED (the helper finds the runtime's internals beside the path). */
function testHelper() {
  const helper = require('node-red-node-test-helper');
  helper.init(require.resolve(nodeRedDir));
  return helper;
}

/**
 * Registers beforeEach/afterEach in the calling describe(): a fresh runtime per test, its flows unloaded, settings
 * reset and the runtime stopped after it. `afterUnload` runs between unload and stop (a server wrapping the
 * runtime's httpNode closes there). Hooks the test file registers after this one run after the runtime is stopped.
 */
function useRuntime(helper, { afterUnload } = {}) {
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    if (afterUnload) await afterUnload();
    helper.settings({});
    await new Promise((r) => helper.stopServer(r));
  });
}

module.exports = { nodeRedDir, nodeRedVersion, redJs, requireFromNodeRed, testHelper, useRuntime };
