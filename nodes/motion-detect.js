module.exports = require('../dist/nodes/motion-detect.js');
