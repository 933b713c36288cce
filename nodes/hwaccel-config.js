module.exports = require('../dist/nodes/hwaccel-config.js');
