'use strict';
// The alert rules shipped beside the Grafana dashboard (grafana/glimpser-alerts.yml): Prometheus's own promtool
// (Debian's `prometheus` package, installed by .ci/run) checks them and runs their unit tests
// (grafana/glimpser-alerts.test.yml); every rule has a test, and every metric a rule reads is one the package
// exposes (a renamed metric would leave its alert silent forever).
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const rulesFile = path.join(root, 'grafana', 'glimpser-alerts.yml');
const testsFile = path.join(root, 'grafana', 'glimpser-alerts.test.yml');
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;


function promtool(...args) {
  const r = spawnSync('promtool', args, { cwd: path.dirname(rulesFile), encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Each rule's name and expression, read from the YAML's `- alert:` / `expr:` lines (block scalars included). */
function rules() {
  const out = [];
  const lines = fs.readFileSync(rulesFile, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const alert = /^\s*- alert: (\S+)/.exec(lines[i]);
    if (alert) out.push({ alert: alert[1], expr: '' });
    const expr = /^(\s*)expr: (.*)$/.exec(lines[i]);
    if (expr && out.length) {
      if (expr[2].trim() === '|') {
        const indent = expr[1].length;
        for (let j = i + 1; j < lines.length && (lines[j].trim() === '' || lines[j].search(/\S/) > indent); j++) out.at(-1).expr += `${lines[j].trim()} `;
      } else out.at(-1).expr = expr[2];
    }
  }
  return out;
}

/** Every .ts file under src/, for the names of the metrics the package defines. */
function sourceText(dir = path.join(root, 'src')) {
  let text = '';
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) text += sourceText(p);
    else if (entry.name.endsWith('.ts')) text += fs.readFileSync(p, 'utf8');
  }
  return text;
}

describe('alert rules (grafana/glimpser-alerts.yml) with promtool', function () {
  this.timeout(30000);

  it('promtool checks the rules file', function () {
    if (!hasPromtool) this.skip(); // Debian's prometheus package; .ci/run installs it
    const r = promtool('check', 'rules', rulesFile);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules().length} rules found`));
  });

  it('promtool runs the rules\' unit tests', function () {
    if (!hasPromtool) this.skip();
    const r = promtool('test', 'rules', testsFile);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it('every rule is tested firing', function () {
    const tests = fs.readFileSync(testsFile, 'utf8');
    const untested = rules()
      .map((r) => r.alert)
      .filter((name) => !new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`).test(tests));
    assert.deepEqual(untested, [], 'rules without a test that expects them to fire');
  });

  it('every metric a rule reads is one the package exposes', function () {
    const { processMetricsRegistry } = require('../../dist/core/health/metrics');
    const processNames = new Set(processMetricsRegistry().getMetricsAsArray().map((m) => m.name));
    const src = sourceText();
    const used = new Set();
    for (const r of rules()) for (const m of r.expr.matchAll(/\b((?:glimpser|process|nodejs)_[a-z_]+)\b/g)) used.add(m[1]);
    assert.ok(used.size >= 8, `metrics found in the rules: ${[...used]}`);
    const missing = [];
    for (const name of used) {
      const exposed = name.startsWith('glimpser_') ? src.includes(`'${name}'`) : processNames.has(name);
      if (!exposed) missing.push(name);
    }
    assert.deepEqual(missing, [], 'metrics the rules read that the package does not define');
  });
});
