'use strict';
// `npm run build`: renders src/ into dist/, the folder build-static publishes. No dependencies.
const fs = require('fs');
const path = require('path');

const src = path.join(__dirname, 'src');
const dist = path.join(__dirname, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });
for (const name of fs.readdirSync(src)) {
  const text = fs.readFileSync(path.join(src, name), 'utf8').replace('{{BUILT_AT}}', new Date().toISOString());
  fs.writeFileSync(path.join(dist, name), text);
}
console.log(`built ${fs.readdirSync(dist).length} file(s) into dist/`);
