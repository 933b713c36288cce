'use strict';
// Before packing: an empty dist/, so files of sources since moved or deleted never reach the tarball.
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.join(__dirname, '..', 'dist'), { recursive: true, force: true });
