module.exports = require('../dist/nodes/stream-health.js');
