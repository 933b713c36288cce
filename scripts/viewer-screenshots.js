'use strict';
// Screenshots of the viewer page for the README (docs/viewer-desktop.png, docs/viewer-phone.png): a real
// node-red with eight test cameras (one of them pointing at nothing, so it shows its placeholder and state, one
// watched by motion-detect), Debian's Chromium at a desktop and a phone size.
// Run: npm run build && node scripts/viewer-screenshots.js
const path = require('node:path');
const sharp = require('sharp');
const { startNodeRed } = require('../test/helpers/node-red-process');
const { launch } = require('../test/helpers/browser');
const { delay, waitFor } = require('../test/helpers/procs');

const CAMERAS = [
  ['Front door', 'testsrc2=size=320x240:rate=5'],
  ['Driveway', 'mandelbrot=size=320x240:rate=5'],
  ['Garden', 'life=size=320x240:rate=5:mold=10:ratio=0.1:death_color=#203020:life_color=#80c080'],
  ['Garage', 'smptehdbars=size=320x180:rate=5'],
  ['Hall', 'gradients=size=320x240:rate=5:speed=0.05'],
  ['Porch', 'cellauto=size=320x240:rate=5:rule=110'],
  ['Attic', 'rgbtestsrc=size=320x240:rate=5'],
  ['Back yard', 'rtsp://127.0.0.1:9/nothing-here'],
];

async function main() {
  const flow = [{ id: 'tab', type: 'tab', label: 'cameras' }, { id: 'pool', type: 'glimpser-process-pool', backoffBase: 1, backoffCap: 5 }];
  CAMERAS.forEach(([name, source], i) => {
    flow.push({ id: `src${i}`, type: 'glimpser-ffmpeg-source', z: 'tab', name: `cam${i}`, pool: 'pool', source, fps: 5, quality: 6, startMode: 'always', wires: [[`out${i}`, ...(i === 0 ? ['motion'] : [])]] });
    flow.push({ id: `out${i}`, type: 'glimpser-mjpeg-out', z: 'tab', name, path: `/glimpser/cam${i}.mjpg`, stillPath: '', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [] });
  });
  flow.push({ id: 'motion', type: 'glimpser-motion-detect', z: 'tab', stream: 'cam0', discovery: false, wires: [[]] });
  const nr = await startNodeRed(flow);
  const base = `http://127.0.0.1:${nr.port}/glimpser/`;
  const shots = [
    ['viewer-desktop.png', { viewport: { width: 1280, height: 720 } }],
    ['viewer-phone.png', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true }],
  ];
  try {
    for (const [file, options] of shots) {
      const browser = await launch(options);
      try {
        await browser.page.goto(base);
        await waitFor(async () => {
          const s = await browser.page.evaluate(() => window.glimpserViewer.stats());
          return s.tiles && Object.values(s.tiles).filter((t) => t.frames > 3).length >= Math.min(CAMERAS.length, file.includes('phone') ? 6 : 8);
        }, 30000, 200);
        await delay(1500);
        // A palette PNG: a third of the bytes, no visible loss at this size.
        await sharp(await browser.page.screenshot()).png({ palette: true, quality: 90, effort: 8 }).toFile(path.join(__dirname, '..', 'docs', file));
        console.log(`docs/${file}`);
      } finally {
        await browser.close();
      }
    }
  } finally {
    nr.child.kill('SIGTERM');
    await nr.exited;
    nr.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
