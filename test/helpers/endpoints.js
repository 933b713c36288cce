'use strict';
// The runtime's directory of mjpeg out endpoints (what the viewer page lists), for browser tests about the page that
// check which tiles are viewers of which endpoint. Tests of mjpeg out itself read what a user reads instead (status,
// HTTP, metrics); nodes carry no test hooks.
const { lifecycleOf } = require('../../dist/nodes/lifecycle');

/** The endpoint the mjpeg out node `id` serves in the runtime node-red-node-test-helper has loaded. */
function endpointOf(helper, id) {
  return lifecycleOf({ events: helper._events }).endpoints.get(id)?.endpoint;
}

module.exports = { endpointOf };
