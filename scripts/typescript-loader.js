'use strict';
/**
 * Runs this project's TypeScript in Node as ts-node's transpile-only mode does: each file through TypeScript's
 * `transpileModule` with tsconfig.json's compiler options, no type checking (that stays in `npm run lint`,
 * `npm run build` and the tests). Each file's JavaScript is kept in node_modules/.cache/modulus-typescript/ under a
 * hash of its path, its source, tsconfig.json, the compiler's version and this file, so a run transpiles only the
 * files that changed since the last one, and loads the compiler only then. ts-node transpiled every file on every run: 2.5 s of
 * the 3.1 s of CPU a `cdktf synth` of main.ts took, and `npm run ctl` type-checked as well (5.6 s).
 *
 *   node --require ./scripts/typescript-loader.js main.ts     (cdktf.json's app; the npm scripts alike)
 *
 * Each file's JavaScript carries an inline source map, and Node maps stack traces through them: an error names the
 * TypeScript file's line, as under ts-node.
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const PROJECT = path.resolve(__dirname, '..');
const TSCONFIG = path.join(PROJECT, 'tsconfig.json');
const CACHE = path.join(PROJECT, 'node_modules', '.cache', 'modulus-typescript');
const CONTEXT = [fs.readFileSync(TSCONFIG, 'utf8'), require('typescript/package.json').version, fs.readFileSync(__filename, 'utf8')].join('\0');

let compilerOptions;

/** tsconfig.json's options, less those about output files (one module in memory): no declarations, an inline source map. */
function options(ts) {
  const { config, error } = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
  if (error) throw new Error(`${TSCONFIG}: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
  const { rootDir, outDir, outFile, declarationDir, tsBuildInfoFile, ...kept } = ts.parseJsonConfigFileContent(config, ts.sys, PROJECT).options;
  return { ...kept, declaration: false, declarationMap: false, sourceMap: false, inlineSourceMap: true, inlineSources: false, noEmit: false, composite: false, incremental: false };
}

function transpiled(filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(CONTEXT).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  const ts = require('typescript');
  compilerOptions ??= options(ts);
  const { outputText: output, diagnostics } = ts.transpileModule(source, { fileName: filename, compilerOptions, reportDiagnostics: true });
  // transpileModule reports syntax errors only, and emits its best guess despite them: refuse to run that.
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (name) => name, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
    throw new SyntaxError(`TypeScript cannot transpile ${path.relative(process.cwd(), filename)}:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  // Written whole under a name of its own, then renamed: runs side by side never read half a file. A cache that
  // cannot be written (a read-only node_modules) only costs the next run the transpile.
  try {
    fs.mkdirSync(CACHE, { recursive: true });
    const partial = `${cached}.${process.pid}.partial`;
    fs.writeFileSync(partial, output);
    fs.renameSync(partial, cached);
  } catch {
    // Not cached.
  }
  return output;
}

process.setSourceMapsEnabled(true);
require.extensions['.ts'] = (module, filename) => module._compile(transpiled(filename), filename);
