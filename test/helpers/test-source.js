'use strict';
// A stream as an mjpeg-out endpoint sees it (EndpointSource), for tests: it owns no process; the test drives its
// state and reads the demand its users declare.
const { EventEmitter } = require('node:events');

class TestSource extends EventEmitter {
  constructor(name = 'cam', state = 'healthy') {
    super();
    this.name = name;
    this._state = state;
    this._error = undefined;
    this._latest = undefined;
    this._motion = undefined;
    this.users = new Map();
    /** Set `definition = { capture: { fps } }` to give endpoints the stream's rate. */
    this.definition = undefined;
  }
  /** Whether a motion user sees motion; undefined: none watches. */
  get motion() { return this._motion; }
  setMotion(active) {
    this._motion = active;
    this.emit('motion', active === true);
  }
  get state() { return this._state; }
  get lastError() { return this._state === 'recovering' || this._state === 'failed' ? this._error : undefined; }
  latest() { return this._latest; }
  use(id, demand, counters) {
    this.users.set(id, demand);
    // What the user told last, with its counters (what health and metrics read of it).
    (this.usedWith ??= new Map()).set(id, [id, demand, counters ?? this.usedWith.get(id)?.[2]]);
    this.emit('use', id, demand);
    if (demand.run && this._state === 'idle') this.setState('starting');
  }
  unuse(id, mode) {
    this.users.delete(id);
    this.emit('unuse', id, mode);
  }
  /** Users whose demand keeps the stream running. */
  running() {
    return [...this.users.entries()].filter(([, d]) => d.run).map(([id]) => id);
  }
  setState(state, reason) {
    const previous = this._state;
    this._state = state;
    if (reason) this._error = reason;
    this.emit('state', { state, previous, reason, retries: 0, time: Date.now() });
  }
}

module.exports = { TestSource };
