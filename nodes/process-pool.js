module.exports = require('../dist/nodes/process-pool.js');
