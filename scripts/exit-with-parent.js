'use strict';
// Preloaded into the Node-RED process that `npm start` runs: its stdin is a pipe from the start script, so
// end-of-file there means the start script is gone (even if it was SIGKILLed). Node-RED then stops the way it
// does on SIGTERM: flows closed, every FFmpeg stopped, rather than running on as an orphan.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
