'use strict';
// The viewer page's main thread: tiles, their states from the control channel (Server-Sent Events), which tiles
// are wanted (visible ones, at their size; none while the page is hidden), full screen with swipe and pinch. The
// pictures never pass through here: worker.js receives, decodes and draws them.
(function () {
  const cfg = JSON.parse(document.getElementById('glimpser-config').textContent);
  const S = cfg.strings || {};
  const params = new URLSearchParams(location.search);
  const api = new URL('api/', location.href).href;
  const LADDER = [160, 320, 640];
  const SUBSCRIBE_DELAY_MS = 120;
  const EVENTS_BACKOFF_MAX_MS = 3000;

  const $ = (id) => document.getElementById(id);
  const grid = $('grid');
  const text = (key, n) => String(S[key] || key).replace('{n}', n === undefined ? '' : n);

  // --- preferences (the page URL wins over what was chosen last time) -------------------------------
  function pref(name, dflt) {
    if (params.has(name)) return params.get(name) !== '0';
    const v = localStorage.getItem('glimpser.viewer.' + name);
    return v === null ? dflt : v === '1';
  }
  function setPref(name, on) {
    try {
      localStorage.setItem('glimpser.viewer.' + name, on ? '1' : '0');
    } catch (e) {
      // private mode: the choice lasts for this page only
    }
  }
  let smooth = pref('smooth', true);
  let aware = pref('aware', true);
  const idleFps = Number(params.get('idlefps')) > 0 ? Number(params.get('idlefps')) : cfg.idleFps;

  document.title = text('title');
  $('title').textContent = text('title');
  $('smooth-label').textContent = text('smooth');
  $('smooth-hint').textContent = text('smoothShort');
  $('smooth-switch').title = text('smoothHint');
  $('aware-label').textContent = text('motionAware');
  $('aware-hint').textContent = text('motionAwareShort', idleFps);
  $('aware-switch').title = text('motionAwareHint');
  $('smooth').checked = smooth;
  $('aware').checked = aware;
  $('empty').textContent = text('noCameras');
  $('full-close').title = text('close');
  $('full-close').setAttribute('aria-label', text('close'));

  // --- the worker -------------------------------------------------------------------------------
  // Where OffscreenCanvas is missing (or ?render=page), the worker still receives and decodes; the page draws.
  const offscreen = typeof HTMLCanvasElement.prototype.transferControlToOffscreen === 'function' && params.get('render') !== 'page';
  const worker = new Worker('worker.js');
  worker.postMessage({ type: 'init', api, smooth, drawOnPage: !offscreen });

  /** Tiles by id: {el, canvas, badge, fps, info, renderer (page drawing only)}. */
  const tiles = new Map();
  const visible = new Set();
  let fullId = null;
  let lastStats = {};
  let workerOpen = false;
  let eventsOpen = false;

  worker.onmessage = (e) => {
    const m = e.data;
    const t = tiles.get(m.id);
    if (m.type === 'size') {
      if (t) setAspect(t, m.width, m.height);
    } else if (m.type === 'stats') {
      lastStats = m;
      for (const [id, s] of Object.entries(m.tiles)) {
        const tt = tiles.get(id);
        if (tt) tt.fps.textContent = wantedIds().has(id) ? text('fps', s.fps.toFixed(s.fps < 10 ? 1 : 0)) : '';
      }
    } else if (m.type === 'conn') {
      workerOpen = m.state === 'open';
      showConn();
    } else if (m.type === 'gone') {
      if (t) {
        t.el.classList.add('is-gone');
        t.note.textContent = text('gone.' + m.reason);
      }
    } else if (m.type === 'placeholder') {
      if (t) {
        t.el.classList.toggle('is-placeholder', m.on);
        if (!m.on) t.el.classList.remove('is-gone');
      }
    } else if (m.type === 'bitmap') {
      if (t && t.renderer) t.renderer.push(m.bitmap, m.time, m.arrival, m.placeholder);
      else m.bitmap.close();
      if (t && !m.placeholder) t.el.classList.remove('is-gone');
    }
  };

  function showConn() {
    const c = $('conn');
    const ok = workerOpen && eventsOpen;
    c.hidden = ok;
    c.textContent = ok ? '' : tiles.size || eventsOpen ? text('reconnecting') : text('connecting');
  }

  // Page drawing (no OffscreenCanvas): one loop at the display's rate for every tile.
  if (!offscreen) {
    const loop = (ts) => {
      const now = performance.timeOrigin + ts;
      for (const t of tiles.values()) if (t.renderer) t.renderer.draw(now, smooth);
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  // --- tiles ------------------------------------------------------------------------------------
  const observer = new IntersectionObserver((entries) => {
    for (const en of entries) {
      const id = en.target.dataset.id;
      if (en.isIntersecting) visible.add(id);
      else visible.delete(id);
    }
    scheduleSubscribe();
  });

  function makeTile(info) {
    const el = document.createElement('figure');
    el.className = 'tile';
    el.dataset.id = info.id;
    const canvas = document.createElement('canvas');
    canvas.width = 4;
    canvas.height = 3;
    const cap = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'name';
    const motion = document.createElement('span');
    motion.className = 'motion';
    motion.textContent = text('motion');
    const badge = document.createElement('span');
    badge.className = 'badge';
    const fps = document.createElement('span');
    fps.className = 'fps';
    const note = document.createElement('div');
    note.className = 'note';
    const flags = document.createElement('div');
    flags.className = 'flags';
    flags.append(motion, badge);
    cap.append(name, fps);
    el.append(canvas, flags, cap, note);
    const t = { el, canvas, name, badge, fps, note, info, renderer: null, aspect: 0 };
    if (offscreen) {
      const off = canvas.transferControlToOffscreen();
      worker.postMessage({ type: 'canvas', id: info.id, canvas: off }, [off]);
    } else {
      t.renderer = new GlimpserRender.TileRenderer(canvas, (w, h) => setAspect(t, w, h));
    }
    el.addEventListener('click', () => {
      if (!fullId && !gesture.moved) openFull(info.id);
    });
    return t;
  }

  function updateTile(t, info) {
    t.info = info;
    t.name.textContent = info.name;
    t.badge.dataset.state = info.state;
    t.badge.textContent = text('state.' + info.state);
    t.badge.title = info.reason || '';
    t.el.classList.toggle('has-motion', info.motion === true);
  }

  /** The tile list from the control channel: tiles are added, kept (with their canvases) or removed by id. */
  function syncTiles(list) {
    const ids = new Set(list.map((i) => i.id));
    for (const [id, t] of tiles) {
      if (ids.has(id)) continue;
      observer.unobserve(t.el);
      t.el.remove();
      if (t.renderer) t.renderer.dispose();
      worker.postMessage({ type: 'drop', id });
      tiles.delete(id);
      visible.delete(id);
      if (fullId === id) closeFull();
    }
    let before = null;
    for (let i = list.length - 1; i >= 0; i--) {
      const info = list[i];
      let t = tiles.get(info.id);
      if (!t) {
        t = makeTile(info);
        tiles.set(info.id, t);
        observer.observe(t.el);
      }
      updateTile(t, info);
      if (t.el.nextSibling !== before || t.el.parentNode !== grid) grid.insertBefore(t.el, before);
      before = t.el;
    }
    $('empty').hidden = list.length > 0;
    scheduleLayout();
    scheduleSubscribe();
  }

  // --- layout: tiles as large as the window allows ----------------------------------------------------
  // One camera fills the window, sixteen make a 4×4 grid: the column count that gives the widest tiles with every
  // row in view. Below MIN_TILE_PX that would be too small to see anything: tiles keep that width and the page scrolls.
  const MIN_TILE_PX = 160;
  const DEFAULT_ASPECT = 16 / 9;

  function setAspect(t, w, h) {
    t.canvas.style.aspectRatio = w + ' / ' + h;
    const aspect = w / h;
    if (Math.abs(aspect - t.aspect) > 0.01) {
      t.aspect = aspect;
      scheduleLayout();
    }
  }

  /** The pictures' usual shape: the median of the tiles' known aspect ratios. */
  function typicalAspect() {
    const known = [...tiles.values()].map((t) => t.aspect).filter((a) => a > 0).sort((a, b) => a - b);
    return known.length ? known[Math.floor(known.length / 2)] : DEFAULT_ASPECT;
  }

  function layout() {
    const n = grid.children.length;
    if (n === 0) return;
    const style = getComputedStyle(grid);
    const gap = parseFloat(style.columnGap) || 0;
    const width = grid.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const height = window.innerHeight - top - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const aspect = typicalAspect();
    let best = { cols: 1, tile: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tile = Math.min((width - gap * (cols - 1)) / cols, ((height - gap * (rows - 1)) / rows) * aspect);
      if (tile > best.tile) best = { cols, tile };
    }
    if (best.tile < MIN_TILE_PX) {
      const cols = Math.max(1, Math.min(n, Math.floor((width + gap) / (MIN_TILE_PX + gap))));
      best = { cols, tile: (width - gap * (cols - 1)) / cols };
    }
    grid.style.setProperty('--cols', String(best.cols));
    grid.style.setProperty('--tile', Math.floor(best.tile) + 'px');
  }

  let layoutFrame = 0;
  function scheduleLayout() {
    if (layoutFrame) return;
    layoutFrame = requestAnimationFrame(() => {
      layoutFrame = 0;
      layout();
      // Tiles changed size: each asks for a picture of its new size.
      scheduleSubscribe();
    });
  }

  // --- what the worker should receive -----------------------------------------------------------

  /** The thumbnail width a tile needs: its drawn width in device pixels, up the server's ladder (0: full size). */
  function widthFor(t) {
    const px = Math.round((fullId ? window.innerWidth : t.canvas.getBoundingClientRect().width) * (window.devicePixelRatio || 1));
    for (const w of LADDER) if (px <= w) return w;
    return 0;
  }

  function wantedIds() {
    if (document.visibilityState === 'hidden') return new Set();
    return new Set(fullId ? [fullId] : visible);
  }

  let subscribeTimer = 0;
  let lastWanted = '';
  function scheduleSubscribe() {
    clearTimeout(subscribeTimer);
    subscribeTimer = setTimeout(() => {
      const want = [];
      for (const id of wantedIds()) {
        const t = tiles.get(id);
        if (!t) continue;
        const w = widthFor(t);
        const req = { id };
        if (w) req.width = w;
        if (aware) req.idleFps = idleFps;
        want.push(req);
      }
      const key = JSON.stringify(want);
      if (key === lastWanted) return;
      lastWanted = key;
      worker.postMessage({ type: 'want', tiles: want });
    }, SUBSCRIBE_DELAY_MS);
  }

  // A hidden page receives nothing: the server stops sending, and its endpoints lose these viewers.
  document.addEventListener('visibilitychange', scheduleSubscribe);
  window.addEventListener('resize', scheduleLayout);

  $('smooth').addEventListener('change', (e) => {
    smooth = e.target.checked;
    setPref('smooth', smooth);
    worker.postMessage({ type: 'smooth', on: smooth });
  });
  $('aware').addEventListener('change', (e) => {
    aware = e.target.checked;
    setPref('aware', aware);
    scheduleSubscribe();
  });

  // --- control channel ----------------------------------------------------------------------------
  let eventsBackoff = 250;
  function connectEvents() {
    const es = new EventSource(api + 'events');
    es.addEventListener('tiles', (e) => {
      eventsOpen = true;
      eventsBackoff = 250;
      syncTiles(JSON.parse(e.data));
      showConn();
    });
    es.addEventListener('tile', (e) => {
      const info = JSON.parse(e.data);
      const t = tiles.get(info.id);
      if (t) updateTile(t, info);
    });
    // EventSource retries some failures by itself and gives up on others (a 401, a 503): one policy for all.
    es.onerror = () => {
      es.close();
      eventsOpen = false;
      showConn();
      const wait = eventsBackoff * (0.8 + Math.random() * 0.4);
      eventsBackoff = Math.min(EVENTS_BACKOFF_MAX_MS, eventsBackoff * 2);
      setTimeout(connectEvents, wait);
    };
  }
  connectEvents();
  showConn();

  // --- full screen: tap, swipe, pinch ---------------------------------------------------------------
  const gesture = { pointers: new Map(), scale: 1, x: 0, y: 0, start: null, moved: false, lastTap: 0 };

  function openFull(id) {
    const t = tiles.get(id);
    if (!t) return;
    if (fullId) tiles.get(fullId)?.el.classList.remove('is-full');
    fullId = id;
    resetZoom();
    t.el.classList.add('is-full');
    document.body.classList.add('has-full');
    $('full-close').hidden = false;
    t.el.title = text('zoomHint');
    scheduleSubscribe();
  }

  function closeFull() {
    const t = fullId && tiles.get(fullId);
    if (t) {
      t.el.classList.remove('is-full');
      t.el.title = '';
      t.canvas.style.transform = '';
    }
    fullId = null;
    document.body.classList.remove('has-full');
    $('full-close').hidden = true;
    scheduleSubscribe();
  }

  function step(dir) {
    const ids = [...tiles.keys()].filter((id) => tiles.get(id).el.parentNode === grid);
    const order = [...grid.children].map((el) => el.dataset.id).filter((id) => ids.includes(id));
    const i = order.indexOf(fullId);
    if (i < 0 || order.length < 2) return;
    openFull(order[(i + dir + order.length) % order.length]);
  }

  function resetZoom() {
    gesture.scale = 1;
    gesture.x = gesture.y = 0;
    applyZoom();
  }

  function applyZoom() {
    const t = fullId && tiles.get(fullId);
    if (t) t.canvas.style.transform = gesture.scale === 1 ? '' : `translate(${gesture.x}px, ${gesture.y}px) scale(${gesture.scale})`;
  }

  function clampPan() {
    const w = window.innerWidth;
    const h = window.innerHeight;
    gesture.x = Math.min(0, Math.max(w - w * gesture.scale, gesture.x));
    gesture.y = Math.min(0, Math.max(h - h * gesture.scale, gesture.y));
  }

  $('full-close').addEventListener('click', closeFull);
  document.addEventListener('keydown', (e) => {
    if (!fullId) return;
    if (e.key === 'Escape') closeFull();
    else if (e.key === 'ArrowRight') step(1);
    else if (e.key === 'ArrowLeft') step(-1);
  });

  document.addEventListener('pointerdown', (e) => {
    gesture.moved = false;
    if (!fullId) return;
    gesture.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    gesture.start = { pointers: new Map(gesture.pointers), scale: gesture.scale, x: gesture.x, y: gesture.y, t: Date.now() };
  });

  document.addEventListener('pointermove', (e) => {
    if (!fullId || !gesture.pointers.has(e.pointerId) || !gesture.start) return;
    gesture.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    const s = gesture.start;
    const now = [...gesture.pointers.values()];
    const then = [...s.pointers.values()];
    if (now.length >= 2 && then.length >= 2) {
      // Pinch: scale by the change in finger distance, about the point between the fingers.
      const d0 = Math.hypot(then[0].x - then[1].x, then[0].y - then[1].y) || 1;
      const d1 = Math.hypot(now[0].x - now[1].x, now[0].y - now[1].y);
      const m0 = { x: (then[0].x + then[1].x) / 2, y: (then[0].y + then[1].y) / 2 };
      const m1 = { x: (now[0].x + now[1].x) / 2, y: (now[0].y + now[1].y) / 2 };
      const scale = Math.min(8, Math.max(1, (s.scale * d1) / d0));
      gesture.x = m1.x - ((m0.x - s.x) * scale) / s.scale;
      gesture.y = m1.y - ((m0.y - s.y) * scale) / s.scale;
      gesture.scale = scale;
      gesture.moved = true;
      clampPan();
      applyZoom();
    } else if (gesture.scale > 1 && now.length === 1) {
      gesture.x = s.x + now[0].x - then[0].x;
      gesture.y = s.y + now[0].y - then[0].y;
      gesture.moved = true;
      clampPan();
      applyZoom();
    }
  });

  function pointerEnd(e) {
    if (!fullId || !gesture.pointers.has(e.pointerId)) return;
    const s = gesture.start;
    const p0 = s && s.pointers.get(e.pointerId);
    gesture.pointers.delete(e.pointerId);
    if (gesture.pointers.size > 0) {
      gesture.start = { pointers: new Map(gesture.pointers), scale: gesture.scale, x: gesture.x, y: gesture.y, t: Date.now() };
      return;
    }
    gesture.start = null;
    if (!p0 || gesture.moved || s.pointers.size !== 1) return;
    const dx = e.clientX - p0.x;
    const dy = e.clientY - p0.y;
    // Swipe at normal size: the next or previous camera.
    if (gesture.scale === 1 && Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy) && Date.now() - s.t < 800) {
      gesture.moved = true;
      step(dx < 0 ? 1 : -1);
      return;
    }
    if (Math.abs(dx) < 10 && Math.abs(dy) < 10) {
      // Double tap: zoom in twice about the tap, or back to the whole picture.
      if (Date.now() - gesture.lastTap < 300) {
        if (gesture.scale > 1) resetZoom();
        else {
          gesture.scale = 2;
          gesture.x = -e.clientX;
          gesture.y = -e.clientY;
          clampPan();
          applyZoom();
        }
        gesture.lastTap = 0;
      } else gesture.lastTap = Date.now();
    }
  }
  document.addEventListener('pointerup', pointerEnd);
  document.addEventListener('pointercancel', pointerEnd);

  // --- a heartbeat on the main thread, for tests and diagnostics -----------------------------------
  // The longest gap between 20 ms ticks and the long tasks the browser reports: a frozen page shows here.
  const heartbeat = { maxGapMs: 0, longTasks: [] };
  let lastBeat = performance.now();
  setInterval(() => {
    const t = performance.now();
    heartbeat.maxGapMs = Math.max(heartbeat.maxGapMs, t - lastBeat);
    lastBeat = t;
  }, 20);
  try {
    new PerformanceObserver((list) => {
      for (const en of list.getEntries()) heartbeat.longTasks.push(Math.round(en.duration));
    }).observe({ type: 'longtask', buffered: false });
  } catch (e) {
    // no Long Tasks API here: the heartbeat gap still shows a blocked thread
  }

  window.glimpserViewer = {
    heartbeat,
    resetHeartbeat() {
      heartbeat.maxGapMs = 0;
      heartbeat.longTasks.length = 0;
      lastBeat = performance.now();
    },
    stats: () => lastStats,
    tiles: () => [...tiles.values()].map((t) => ({ ...t.info, classes: t.el.className })),
    wanted: () => [...wantedIds()],
    offscreen,
    open: openFull,
    close: closeFull,
  };
})();
