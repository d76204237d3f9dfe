import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../harness/checkout';
import { tempDir } from './support/temp';

/**
 * The README's TypeScript examples compile against this package's API: a renamed prop or enum fails here
 * instead of in a user's first copy-paste. Blocks with their own imports compile as they are (`modulus-images`
 * resolved to lib/index.ts); fragments get the usual imports and an `app` and a `stack`.
 */
const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const BLOCKS = [...README.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
const LIBRARY = path.join(REPO_ROOT, 'lib', 'index');
const FRAGMENT_PREAMBLE = [
  "import { App, S3Backend, TerraformStack, TerraformVariable } from 'cdktf';",
  `import * as modulus from '${LIBRARY}';`,
  'declare const app: App;',
  'declare const stack: modulus.ModulusStack;',
  'export {};',
].join('\n');

function asModule(block: string): string {
  if (/^import /m.test(block)) return block.replace(/from 'modulus-images'/g, `from '${LIBRARY}'`);
  // Every export of the package under its own name, as `import { ... } from 'modulus-images'` would give it.
  const names = Object.keys(require(LIBRARY)).filter((name) => new RegExp(`\\b${name}\\b`).test(block));
  const imports = names.length > 0 ? `const { ${names.join(', ')} } = modulus;\n` : '';
  return `${FRAGMENT_PREAMBLE}\n${imports}${block}`;
}

describe('README examples', () => {
  it('has TypeScript examples to check', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(3);
  });

  it('compile against the package', () => {
    const dir = tempDir('modulus-readme-');
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    BLOCKS.forEach((block, index) => fs.writeFileSync(path.join(dir, `example-${index}.ts`), asModule(block)));
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2020', module: 'commonjs', strict: true, noEmit: true, skipLibCheck: true, esModuleInterop: true, types: ['node'] },
        include: ['*.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});
