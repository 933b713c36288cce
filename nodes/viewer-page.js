module.exports = require('../dist/nodes/viewer-page.js');
