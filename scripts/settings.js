'use strict';
// Node-RED settings for `npm start`: the defaults, with the editor and HTTP nodes on one port.
module.exports = {
  uiPort: Number(process.env.PORT || 1880),
  flowFile: 'flows.json',
  credentialSecret: process.env.GLIMPSER_CREDENTIAL_SECRET || 'glimpser-demo-only',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
};
