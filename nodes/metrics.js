module.exports = require('../dist/nodes/metrics.js');
