'use strict';
// A real Prometheus (Debian's `prometheus`, installed by .ci/run) scrapes the metrics endpoint of a real `node-red`
// process with a test camera, through httpNodeAuth; its HTTP API must report the target up and
// glimpser_camera_fps near the source rate; the alert rules load and evaluate there.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { startNodeRed } = require('../helpers/node-red-process');
const { requireFromNodeRed } = require('../helpers/node-red');
const { childrenOf, isAlive, until, waitFor } = require('../helpers/procs');
const { freePort } = require('../helpers/http-server');

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;


function getJson(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode, body: text });
          }
        });
      })
      .on('error', reject);
  });
}

describe('a real Prometheus scrapes a real Node-RED (httpNodeAuth on); the Grafana dashboard\'s queries run on it', function () {
  this.timeout(90000);
  let nr;
  let prom;
  let promDir;

  after(async function () {
    if (prom && prom.exitCode === null) {
      prom.kill('SIGTERM');
      await waitFor(() => prom.exitCode !== null || prom.signalCode !== null, 10000);
      if (prom.exitCode === null && prom.signalCode === null) prom.kill('SIGKILL');
    }
    if (nr) {
      const ffmpegs = childrenOf(nr.child.pid);
      await nr.stop();
      for (const pid of ffmpegs) await until(() => !isAlive(pid), `ffmpeg ${pid} exited`, 10000);
    }
    if (promDir) fs.rmSync(promDir, { recursive: true, force: true });
  });

  it('reports the target up and glimpser_camera_fps near the source rate', async function () {
    if (!hasPrometheus) this.skip(); // Debian's prometheus package; .ci/run installs it
    const bcrypt = requireFromNodeRed('bcryptjs');
    const user = 'prom';
    const password = 'scrape-S3cret';
    const flows = [
      { id: 'tab', type: 'tab', label: 'cams' },
      { id: 'src', type: 'glimpser-ffmpeg-source', z: 'tab', name: 'front', pool: '', source: 'testsrc2=size=320x240:rate=10', fps: 10, width: '', quality: 8, startMode: 'always', loop: true, snapshotTimeout: 10, lowFps: 1, wires: [['sink']] },
      // A plain flow node wired to the source takes every frame: the stream runs at its full rate.
      { id: 'sink', type: 'debug', z: 'tab', active: false, tosidebar: false, console: false, complete: 'false', wires: [] },
      { id: 'metrics', type: 'glimpser-metrics', z: 'tab', name: '', path: '/glimpser/metrics', healthPath: '/glimpser/health', processMetrics: true, wires: [] },
    ];
    nr = await startNodeRed(flows, { settings: `httpNodeAuth: { user: '${user}', pass: '${bcrypt.hashSync(password, 8)}' },` });
    const target = `127.0.0.1:${nr.port}`;

    const anonymous = await getJson(`http://${target}/glimpser/health`);
    assert.equal(anonymous.status, 401, 'httpNodeAuth protects the endpoints');

    promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-prom-'));
    const promPort = await freePort();
    fs.writeFileSync(
      path.join(promDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(path.join(__dirname, '..', '..', 'grafana', 'glimpser-alerts.yml'))}`,
        'scrape_configs:',
        '  - job_name: glimpser',
        '    metrics_path: /glimpser/metrics',
        '    basic_auth:',
        `      username: ${user}`,
        `      password: ${password}`,
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    let promLog = '';
    prom = spawn(
      'prometheus',
      [`--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout.on('data', (c) => (promLog += c));
    prom.stderr.on('data', (c) => (promLog += c));
    const api = `http://127.0.0.1:${promPort}/api/v1`;

    let targets;
    const up = await waitFor(async () => {
      targets = await getJson(`${api}/targets`).catch(() => undefined);
      const t = targets?.body?.data?.activeTargets?.[0];
      return t && t.health === 'up';
    }, 30000, 250);
    assert.ok(up, `target up: ${JSON.stringify(targets?.body)}\n${promLog.slice(-2000)}`);
    const t = targets.body.data.activeTargets[0];
    assert.equal(t.labels.job, 'glimpser');
    assert.equal(t.scrapeUrl, `http://${target}/glimpser/metrics`);

    // The fps meter averages 5 s: once it is full, Prometheus must see the source's 10 fps.
    let result;
    const near = await waitFor(async () => {
      const q = await getJson(`${api}/query?query=${encodeURIComponent('glimpser_camera_fps')}`).catch(() => undefined);
      result = q?.body?.data?.result;
      return result?.length === 1 && Number(result[0].value[1]) >= 9;
    }, 30000, 500);
    assert.ok(near, `glimpser_camera_fps: ${JSON.stringify(result)}`);
    assert.deepEqual(result[0].metric, { __name__: 'glimpser_camera_fps', instance: target, job: 'glimpser', pool: 'default', stream: 'front' });
    const fps = Number(result[0].value[1]);
    assert.ok(fps >= 9 && fps <= 11, `fps ${fps}`);

    const healthy = await getJson(`${api}/query?query=${encodeURIComponent('glimpser_camera_state{state="healthy"}')}`);
    assert.equal(healthy.body.data.result[0].value[1], '1');
    let cpu;
    const busy = await waitFor(async () => {
      cpu = await getJson(`${api}/query?query=${encodeURIComponent('glimpser_ffmpeg_cpu_seconds_total')}`);
      return Number(cpu.body.data.result[0]?.value[1]) > 0;
    }, 10000, 500);
    assert.ok(busy, `FFmpeg CPU seconds: ${JSON.stringify(cpu.body)}`);

    // Every query of the Grafana dashboard is PromQL this Prometheus accepts, and the panels with data show it (rates
    // need a few scrapes first).
    const scraped = await waitFor(async () => {
      const q = await getJson(`${api}/query?query=${encodeURIComponent('count_over_time(glimpser_camera_fps[1m])')}`);
      return Number(q.body.data.result[0]?.value[1]) >= 5;
    }, 20000, 500);
    assert.ok(scraped, 'five scrapes');
    const dashboard = require('../../grafana/glimpser-dashboard.json');
    const results = {};
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        const expr = t.expr.replace(/\$pool|\$stream/g, '.*').replace(/\$__rate_interval/g, '10s');
        const r = await getJson(`${api}/query?query=${encodeURIComponent(expr)}`);
        assert.equal(r.body.status, 'success', `${panel.title}: ${expr}: ${JSON.stringify(r.body)}`);
        (results[panel.title] ??= []).push(...r.body.data.result);
      }
    }
    const state = results.State;
    assert.deepEqual(state.map((x) => [x.metric.stream, x.value[1]]), [['front', '2']], 'the state timeline shows front healthy (2)');
    assert.ok(results['Frames per second'].length === 2);
    assert.ok(Number(results['FFmpeg CPU per camera'][0].value[1]) > 0);
    assert.ok(Number(results['FFmpeg memory per camera'][0].value[1]) > 1e6);
    assert.deepEqual(results['FFmpeg and acceleration'].map((x) => x.metric.acceleration), ['software']);
    assert.deepEqual(results.Viewers.map((x) => x.value[1]), ['0']);

    // The alert rules shipped beside the dashboard load and evaluate on this Prometheus without error, and a healthy
    // camera fires none of them.
    const rules = (await getJson(`${api}/rules`)).body.data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 9, `rules loaded: ${rules.length}`);
    for (const r of rules) assert.ok(r.health === 'ok', `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    const firing = (await getJson(`${api}/alerts`)).body.data.alerts.filter((a) => a.state === 'firing');
    assert.deepEqual(firing.map((a) => a.labels.alertname), [], 'no alert fires for a healthy camera');
  });
});
