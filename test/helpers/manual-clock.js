'use strict';
// A clock for the core's timer-driven logic (src/core/util/clock.ts) that moves only when a test advances it: timers fire
// in order of their due time, each seeing the clock at that time. Tests of what timers decide (repeats, placeholders,
// stale frames, still timeouts, fps caps) then run without waiting and without depending on the machine's load.

class ManualClock {
  constructor(start = 1000) {
    this.t = start;
    this.timers = new Set();
    this.now = () => this.t;
  }

  setTimeout(fn, ms) {
    return this.add(fn, ms, false);
  }

  setInterval(fn, ms) {
    return this.add(fn, ms, true);
  }

  clearTimeout(timer) {
    if (timer) this.timers.delete(timer);
  }

  clearInterval(timer) {
    this.clearTimeout(timer);
  }

  add(fn, ms, repeat) {
    const clock = this;
    const delay = Math.max(1, ms);
    const timer = {
      fn,
      delay,
      repeat,
      due: this.t + delay,
      refresh() {
        this.due = clock.t + this.delay;
        clock.timers.add(this);
        return this;
      },
      unref() {
        return this;
      },
    };
    this.timers.add(timer);
    return timer;
  }

  /** Timers pending now (for leak checks). */
  get pending() {
    return this.timers.size;
  }

  /** Moves the clock `ms` forward, firing every timer that falls due on the way, in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next;
      for (const timer of this.timers) if (timer.due <= end && (!next || timer.due < next.due)) next = timer;
      if (!next) break;
      this.t = Math.max(this.t, next.due);
      if (next.repeat) next.due += next.delay;
      else this.timers.delete(next);
      next.fn();
    }
    this.t = end;
  }
}

module.exports = { ManualClock };
