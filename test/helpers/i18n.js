'use strict';
// node-red-node-test-helper gives nodes a RED._ that returns the key itself, so a test reading a status or an
// error would see 'mjpeg-out.status.viewers' and none of what was substituted. Node modules wrapped with
// withCatalogs() get Node-RED's own i18n (the runtime's @node-red/util) over this package's en-US catalogs
// instead: tests read the English a user reads, and a key missing from its catalog throws rather than passing
// unnoticed.
const fs = require('node:fs');
const path = require('node:path');
const { requireFromNodeRed } = require('./node-red');

const LOCALES = path.join(__dirname, '..', '..', 'nodes', 'locales');

let loading;

/** Resolves to RED._ as Node-RED gives it to our nodes, over every catalog of the package. */
function translator() {
  loading ??= (async () => {
    const { i18n } = requireFromNodeRed('@node-red/util');
    i18n.init({ lang: 'en-US' });
    // Each node file's catalog has its node's short name as the top-level key ('mjpeg-out': {...}).
    const namespaceOf = {};
    for (const file of fs.readdirSync(path.join(LOCALES, 'en-US')).filter((f) => f.endsWith('.json'))) {
      const namespace = `glimpser-test/${file.replace(/\.json$/, '')}`;
      await i18n.registerMessageCatalog(namespace, LOCALES, file);
      for (const top of Object.keys(JSON.parse(fs.readFileSync(path.join(LOCALES, 'en-US', file), 'utf8')))) namespaceOf[top] = namespace;
    }
    return (key, subs) => {
      const namespace = namespaceOf[String(key).split('.')[0]];
      const full = `${namespace}:${key}`;
      if (!namespace || !i18n.i.exists(full)) throw new Error(`no message ${key} in nodes/locales/en-US`);
      return i18n._(full, subs);
    };
  })();
  return loading;
}

/** The node modules with RED._ resolving our catalogs, for helper.load(). */
function withCatalogs(nodeModules) {
  return nodeModules.map((register) => async (RED) => {
    RED._ = await translator();
    return register(RED);
  });
}

module.exports = { withCatalogs, translator };
