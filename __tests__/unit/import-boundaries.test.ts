import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../harness/checkout';

/**
 * Who may import whom: `lib/private` is lib's own (and its tests'), `__tests__` is the tests' own, and the package (`lib/`) stands
 * alone. What tests and benchmarks share lives in `harness/`.
 */
const RULES: { importer: RegExp; forbidden: RegExp; why: string }[] = [
  { importer: /^(?!lib\/|__tests__\/)/, forbidden: /^lib\/private\//, why: 'lib/private is internal to lib/ and its tests (use the public entry, lib/index.ts)' },
  { importer: /^(?!__tests__\/)/, forbidden: /^__tests__\//, why: 'what tests share with others belongs in harness/' },
  { importer: /^lib\//, forbidden: /^(?!lib\/)/, why: 'the package imports nothing of the repository outside lib/' },
];

/** Every relative import of a TypeScript file, as a path from the repository root (without extension). */
function relativeImports(file: string): string[] {
  const source = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const specifiers = [...source.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((match) => match[1]);
  return specifiers.map((specifier) => path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
}

describe('import boundaries', () => {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((file) => file !== '' && !file.endsWith('.d.ts') && fs.existsSync(path.join(REPO_ROOT, file)));

  it('finds the imports it checks (lib/index.ts imports lib modules, the benchmarks import the harness)', () => {
    expect(relativeImports('lib/index.ts')).toContain('lib/app');
    expect(files.filter((file) => file.startsWith('bench/')).flatMap(relativeImports).some((target) => target.startsWith('harness/'))).toBe(true);
  });

  it.each(RULES.map((rule) => [rule.why, rule] as const))('%s', (_why, rule) => {
    const violations = files
      .filter((file) => rule.importer.test(file))
      .flatMap((file) => relativeImports(file).filter((target) => rule.forbidden.test(target)).map((target) => `${file} imports ${target}`));
    expect(violations).toEqual([]);
  });
});
