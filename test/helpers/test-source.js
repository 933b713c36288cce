'use strict';
// A SourceHandle for tests: it owns no process; the test drives its state and counts demand.
const { EventEmitter } = require('node:events');

class TestSource extends EventEmitter {
  constructor(id, name = id, state = 'healthy') {
    super();
    this.id = id;
    this.name = name;
    this._state = state;
    this._error = undefined;
    this._latest = undefined;
    this.consumers = new Set();
    this.acquires = 0;
    this.releases = 0;
  }
  state() { return this._state; }
  lastError() { return this._error; }
  latest() { return this._latest; }
  acquire(id) {
    this.acquires++;
    const first = this.consumers.size === 0;
    this.consumers.add(id);
    this.emit('acquire', id);
    if (first && this._state === 'idle') this.setState('starting');
  }
  release(id) {
    this.releases++;
    this.consumers.delete(id);
    this.emit('release', id);
  }
  setState(state, reason) {
    this._state = state;
    if (reason) this._error = reason;
    this.emit('state', state, reason);
  }
}

module.exports = { TestSource };
