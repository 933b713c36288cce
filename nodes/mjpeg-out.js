module.exports = require('../dist/nodes/mjpeg-out.js');
