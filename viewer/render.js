'use strict';
// Drawing one tile: a short jitter buffer, then each new picture cross-faded over the old one at the display's
// rate. Used in the worker (on an OffscreenCanvas) and, where a browser lacks OffscreenCanvas, on the page.
(function (root) {
  /** Pictures held back by the jitter buffer at most; older ones are dropped. */
  const MAX_QUEUE = 4;
  /** Transit times remembered to find the network's floor. */
  const OFFSETS = 30;

  class TileRenderer {
    /**
     * @param {HTMLCanvasElement|OffscreenCanvas} canvas
     * @param {(w: number, h: number) => void} onSize called when the picture size changes
     */
    constructor(canvas, onSize) {
      this.canvas = canvas;
      this.ctx = canvas.getContext('2d', { alpha: false });
      this.onSize = onSize;
      this.queue = [];
      this.cur = null;
      this.prev = null;
      this.fadeStart = 0;
      this.fadeMs = 0;
      this.dirty = false;
      this.offsets = [];
      this.interval = 100;
      this.lastTime = 0;
    }

    /**
     * A decoded picture: `time` is its capture time and `arrival` when it arrived (both epoch ms). Placeholders
     * are shown at once, without buffering or fading.
     */
    push(bitmap, time, arrival, placeholder) {
      if (placeholder) {
        this.clearQueue();
        this.offsets.length = 0;
        this.lastTime = 0;
        this.show(bitmap, 0, false);
        return;
      }
      if (this.lastTime && time > this.lastTime) this.interval = this.interval * 0.8 + Math.min(2000, time - this.lastTime) * 0.2;
      this.lastTime = time;
      this.offsets.push(arrival - time);
      if (this.offsets.length > OFFSETS) this.offsets.shift();
      this.queue.push({ bitmap, time });
      while (this.queue.length > MAX_QUEUE) this.queue.shift().bitmap.close();
    }

    /** One display frame at `now` (epoch ms): takes the picture that is due, paints while a fade runs. */
    draw(now, smooth) {
      let due = null;
      if (this.queue.length) {
        // A picture is due `delay` after capture plus the smallest recent transit time: arrivals that jitter by
        // less than the delay are shown at their capture spacing.
        const floor = smooth ? Math.min.apply(null, this.offsets) : 0;
        const delay = smooth ? Math.min(150, this.interval * 0.5 + 30) : 0;
        while (this.queue.length && (!smooth || this.queue[0].time + floor + delay <= now)) {
          if (due) due.bitmap.close();
          due = this.queue.shift();
        }
      }
      if (due) this.show(due.bitmap, now, smooth);
      if (this.dirty) this.paint(now);
    }

    show(bitmap, now, fade) {
      if (this.prev) this.prev.close();
      this.prev = fade ? this.cur : null;
      if (!fade && this.cur) this.cur.close();
      this.cur = bitmap;
      this.fadeStart = now;
      // A fade lasts most of a frame interval: a 10 fps camera blends continuously instead of stepping.
      this.fadeMs = fade && this.prev ? Math.min(this.interval, 250) * 0.9 : 0;
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
        this.onSize(bitmap.width, bitmap.height);
      }
      this.dirty = true;
    }

    paint(now) {
      const { ctx, canvas, cur, prev } = this;
      if (!cur) return;
      const k = this.fadeMs > 0 ? Math.min(1, (now - this.fadeStart) / this.fadeMs) : 1;
      if (k < 1 && prev) {
        ctx.globalAlpha = 1;
        ctx.drawImage(prev, 0, 0, canvas.width, canvas.height);
        ctx.globalAlpha = k;
        ctx.drawImage(cur, 0, 0, canvas.width, canvas.height);
        ctx.globalAlpha = 1;
        return;
      }
      ctx.drawImage(cur, 0, 0, canvas.width, canvas.height);
      if (prev) {
        prev.close();
        this.prev = null;
      }
      this.dirty = false;
    }

    clearQueue() {
      for (const f of this.queue) f.bitmap.close();
      this.queue.length = 0;
    }

    dispose() {
      this.clearQueue();
      if (this.prev) this.prev.close();
      if (this.cur) this.cur.close();
      this.prev = this.cur = null;
    }
  }

  root.GlimpserRender = { TileRenderer };
})(typeof self !== 'undefined' ? self : this);
