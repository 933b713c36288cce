module.exports = require('../dist/nodes/ffmpeg-source.js');
