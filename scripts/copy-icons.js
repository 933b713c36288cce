'use strict';
// Build step: Node-RED looks for a node's icon only in an `icons/` folder beside the node's .js file, so the icons
// kept at the top of the package (icons/) are copied to nodes/icons/ (git-ignored), which the tarball ships.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const from = path.join(root, 'icons');
const to = path.join(root, 'nodes', 'icons');
fs.mkdirSync(to, { recursive: true });
const wanted = new Set(fs.readdirSync(from));
for (const name of wanted) {
  const src = fs.readFileSync(path.join(from, name));
  const dest = path.join(to, name);
  // Unchanged files are left alone, so a build beside a running test suite rewrites nothing.
  if (!fs.existsSync(dest) || !fs.readFileSync(dest).equals(src)) fs.writeFileSync(dest, src);
}
// An icon removed from icons/ must not linger in the copy.
for (const name of fs.readdirSync(to)) if (!wanted.has(name)) fs.rmSync(path.join(to, name));
