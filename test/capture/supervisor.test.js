'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { Supervisor, DEFAULT_SUPERVISOR, stallLimitMs } = require('../../dist/core/capture/supervisor');
const { MultipartJpegSplitter } = require('../../dist/core/jpeg/multipart-splitter');
const { backoffDelay } = require('../../dist/core/util/backoff');
const { buildArgs } = require('../../dist/core/ffmpeg/args');
const { isAlive, waitFor } = require('../helpers/procs');
const { ManualClock } = require('../helpers/manual-clock');

const FAKE = (mode) => path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', `ffmpeg-${mode}`);

/** A supervisor whose frames are counted through a real splitter, as the pool wires it. */
function supervised(command, args, overrides = {}) {
  const sup = new Supervisor({
    ...DEFAULT_SUPERVISOR,
    command,
    args,
    extraPipe: false,
    secrets: [],
    expectedFps: 10,
    backoff: { baseMs: 50, capMs: 200, jitter: 0 },
    ...overrides,
  });
  const states = [];
  const exits = [];
  const pids = [];
  const splitter = new MultipartJpegSplitter({ onFrame: (jpeg) => sup.noteFrame(jpeg.length) });
  sup.on('state', (s, reason) => states.push([s, reason]));
  sup.on('exit', (v) => exits.push(v));
  sup.on('spawn', (pid) => {
    pids.push(pid);
    splitter.reset();
  });
  sup.on('stdout', (chunk) => splitter.push(chunk));
  return { sup, states, exits, pids };
}

describe('backoff', function () {
  it('doubles from the base up to the cap, with bounded jitter', function () {
    const o = { baseMs: 1000, capMs: 30000, jitter: 0 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, o)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    const j = { baseMs: 1000, capMs: 30000, jitter: 0.2 };
    assert.equal(backoffDelay(1, j, () => 0), 800);
    assert.equal(backoffDelay(1, j, () => 1), 1200);
    assert.equal(backoffDelay(100, j, () => 0.5), 30000);
  });
});

describe('stall limit', function () {
  it('is 10 frame intervals, at least 5 s, whatever the rate; a configured limit wins', function () {
    assert.equal(stallLimitMs(10), 5000, '10 fps: the 5 s floor');
    assert.equal(stallLimitMs(2), 5000, '2 fps: exactly 10 intervals');
    assert.equal(stallLimitMs(1), 10000, '1 fps: 10 intervals');
    assert.equal(stallLimitMs(0.25), 40000, '0.25 fps: 10 intervals');
    assert.equal(stallLimitMs(0), 10000, 'no rate known: as 1 fps');
    assert.equal(stallLimitMs(30, 2500), 2500, 'configured');
  });
});

describe('Supervisor (real and fault-injecting FFmpeg)', function () {
  this.timeout(30000);
  let current;
  afterEach(async function () {
    if (current) await current.sup.stop();
    for (const pid of current ? current.pids : []) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    current = undefined;
  });

  it('runs a real FFmpeg persistently: frames flow, state healthy, stop waits for exit', async function () {
    const args = buildArgs({ source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5 });
    current = supervised('ffmpeg', args);
    current.sup.start();
    await waitFor(() => current.sup.stats.frames >= 5, 10000);
    assert.ok(current.sup.stats.frames >= 5, 'frames arrived');
    assert.equal(current.sup.state, 'healthy');
    assert.equal(current.pids.length, 1, 'one process, not one per frame');
    const pid = current.pids[0];
    await current.sup.stop();
    assert.equal(isAlive(pid), false);
    assert.equal(current.sup.state, 'idle');
    assert.equal(current.exits.at(-1).kind, 'clean');
  });

  it('restarts a process that dies after some frames, with backoff, and recovers', async function () {
    current = supervised(FAKE('die-after-frames'), []);
    current.sup.start();
    await waitFor(() => current.pids.length >= 3, 10000);
    assert.ok(current.pids.length >= 3, `restarted (${current.pids.length} spawns)`);
    const kinds = current.states.map(([s]) => s);
    assert.ok(kinds.includes('healthy'));
    assert.ok(kinds.includes('recovering'));
    assert.match(current.states.find(([s]) => s === 'recovering')[1], /Connection reset by peer; retry 1 in/);
    assert.ok(current.sup.stats.restarts >= 2);
  });

  it('restarts at once after a healthy run; healthyRunMs Infinity keeps the backoff for the first failure', async function () {
    // The fake sends 5 frames 20 ms apart, then dies: a run of about 80 ms with frames.
    const firstRecovery = async (overrides) => {
      current = supervised(FAKE('die-after-frames'), [], { backoff: { baseMs: 1000, capMs: 1000, jitter: 0 }, ...overrides });
      current.sup.start();
      await waitFor(() => current.states.some(([s]) => s === 'recovering'), 10000);
      const reason = current.states.find(([s]) => s === 'recovering')[1];
      await current.sup.stop();
      return reason;
    };
    assert.match(await firstRecovery({ healthyRunMs: 50 }), /retry 1 in 0\.0 s$/);
    assert.match(await firstRecovery({ healthyRunMs: Infinity }), /retry 1 in 1\.0 s$/);
    assert.equal(DEFAULT_SUPERVISOR.healthyRunMs, 5000);
  });

  it('marks a process that dies at start as recovering, then failed after maxRetries', async function () {
    current = supervised(FAKE('die-at-start'), [], { maxRetries: 2 });
    current.sup.start();
    await waitFor(() => current.sup.state === 'failed', 10000);
    assert.equal(current.sup.state, 'failed');
    assert.match(current.states.at(-1)[1], /Connection refused \(after 2 retries\)/);
  });

  it('classifies an authentication error as permanent and keeps the password out of every reason', async function () {
    const secret = 'hunter2-secret';
    const args = buildArgs({ source: 'rtsp://192.0.2.1/stream', username: 'admin', password: secret, fps: 5, quality: 5 });
    assert.ok(args.some((a) => a.includes(secret)), 'the password reaches FFmpeg in its argument');
    current = supervised(FAKE('auth-error'), args, { secrets: [secret], failedRetryMs: 60000 });
    current.sup.start();
    await waitFor(() => current.sup.state === 'failed', 10000);
    assert.equal(current.sup.state, 'failed');
    const reason = current.states.at(-1)[1];
    assert.match(reason, /authentication failed \(401\)/);
    assert.ok(!reason.includes(secret));
    assert.ok(!current.sup.stats.lastError.includes(secret));
    assert.ok(current.sup.stderrTail().join('\n').includes('401'));
    assert.ok(!current.sup.stderrTail().join('\n').includes(secret));
    assert.equal(current.pids.length, 1, 'no fast retry loop on a permanent error');
  });

  it('kills and restarts a process that hangs without output after the default 20 s start timeout (on a clock the test moves)', async function () {
    const clock = new ManualClock();
    current = supervised(FAKE('hang'), [], { clock });
    current.sup.start();
    await waitFor(() => current.pids.length === 1, 10000);
    clock.advance(19_900);
    assert.equal(isAlive(current.pids[0]), true, 'still waiting for its first frame');
    clock.advance(100);
    await waitFor(() => current.exits.length === 1, 10000);
    assert.equal(isAlive(current.pids[0]), false, 'the hung process was killed');
    assert.match(current.exits[0].reason, /SIGKILL: stalled: no frame for/);
    // It never delivered: the restart waits for the backoff (50 ms here), on the same clock.
    clock.advance(49);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(current.pids.length, 1);
    clock.advance(1);
    await waitFor(() => current.pids.length >= 2, 10000);
    assert.ok(current.pids.length >= 2, 'restarted after the stall');
    const exited = current.sup.stop();
    clock.advance(DEFAULT_SUPERVISOR.stopTimeoutMs);
    await exited;
  });

  it('allows the first frame after a start longer than the stall limit, up to the start timeout, and restarts a process past it', async function () {
    process.env.FAKE_FFMPEG_FIRST_MS = '1500';
    try {
      // A camera that takes 1.5 s to connect: within a 3 s start timeout, though over the 0.5 s stall limit.
      current = supervised(FAKE('slow-start'), [], { startTimeoutMs: 3000, stallTimeoutMs: 500 });
      current.sup.start();
      await waitFor(() => current.sup.stats.frames >= 5, 10000);
      assert.equal(current.pids.length, 1, 'not restarted while waiting for its first frame');
      assert.equal(current.sup.state, 'healthy');
      await current.sup.stop();
      // The same camera with a start timeout shorter than its connect time is killed and restarted.
      current = supervised(FAKE('slow-start'), [], { startTimeoutMs: 800, stallTimeoutMs: 500 });
      current.sup.start();
      await waitFor(() => current.pids.length >= 2, 10000);
      assert.match(current.exits[0].reason, /stalled: no frame for/);
    } finally {
      delete process.env.FAKE_FFMPEG_FIRST_MS;
    }
  });

  it('treats garbage output as no frames: stalls out and restarts', async function () {
    current = supervised(FAKE('garbage'), [], { startTimeoutMs: 1500 });
    current.sup.start();
    await waitFor(() => current.pids.length >= 2, 10000);
    assert.equal(current.sup.stats.frames, 0);
    assert.ok(current.pids.length >= 2);
  });

  it('SIGKILLs a process that ignores SIGTERM, within the stop timeout', async function () {
    current = supervised(FAKE('ignore-sigterm'), [], { stopTimeoutMs: 500 });
    current.sup.start();
    await waitFor(() => current.sup.stats.frames >= 2, 10000);
    const pid = current.pids[0];
    const t0 = Date.now();
    await current.sup.stop();
    assert.equal(isAlive(pid), false);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('reports a missing binary as a permanent failure, not a crash', async function () {
    current = supervised('/nonexistent/ffmpeg', []);
    current.sup.start();
    await waitFor(() => current.sup.state === 'failed', 5000);
    assert.equal(current.sup.state, 'failed');
    assert.match(current.states.at(-1)[1], /FFmpeg not found at "\/nonexistent\/ffmpeg"/);
  });
});
