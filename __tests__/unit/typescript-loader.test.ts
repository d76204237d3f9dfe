/**
 * scripts/typescript-loader.js, which cdktf.json and the npm scripts run TypeScript through: the same JavaScript as
 * ts-node's transpile-only mode, each file transpiled once until it changes, syntax errors refused.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '../..');
const LOADER = path.join(REPO_ROOT, 'scripts', 'typescript-loader.js');

/** Runs `file` through the loader (or ts-node's), printing after its own output whether the compiler was loaded. */
function run(file: string, loader = LOADER) {
  const probe = "process.on('exit', () => console.log('compiler loaded:', Object.keys(require.cache).some((m) => m.endsWith('/node_modules/typescript/lib/typescript.js'))))";
  const result = spawnSync(process.execPath, ['--require', loader, '--eval', `${probe}; require(${JSON.stringify(file)})`], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/typescript-loader.js', () => {
  // Inside the project, as main.ts is (cdktf.out is ignored by git).
  fs.mkdirSync(path.join(REPO_ROOT, 'cdktf.out'), { recursive: true });
  const work = fs.mkdtempSync(path.join(REPO_ROOT, 'cdktf.out', 'loader-test-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  const program = path.join(work, 'program.ts');
  const source = [
    "import { helper } from './helper';",
    "enum Color { Red = 'red' }",
    'function tagged<C extends new (...args: any[]) => object>(target: C, _context: ClassDecoratorContext<C>): C {',
    "  return class extends target { tag = 'decorated'; };",
    '}',
    '@tagged',
    'class Box { constructor(public readonly size: number) {} }',
    'const box = new Box(3) as Box & { tag: string };',
    'console.log(Color.Red, box.size, box.tag, helper());',
    '',
  ].join('\n');

  beforeAll(() => {
    fs.writeFileSync(path.join(work, 'helper.ts'), 'export const helper = (): string => "helped";\n');
    fs.writeFileSync(program, source);
  });

  it('runs TypeScript as ts-node --transpile-only does: imports, enums, decorators, parameter properties', () => {
    const ours = run(program);
    expect(ours).toMatchObject({ status: 0, stderr: '' });
    expect(ours.stdout.split('\n')[0]).toBe('red 3 decorated helped');
    expect(run(program, 'ts-node/register/transpile-only').stdout.split('\n')[0]).toBe(ours.stdout.split('\n')[0]);
  });

  it('loads the compiler only for a file it has not transpiled as it is now', () => {
    expect(run(program).stdout).toBe('red 3 decorated helped\ncompiler loaded: false\n');
    fs.writeFileSync(program, source.replace("Red = 'red'", "Red = 'crimson'"));
    expect(run(program).stdout).toBe('crimson 3 decorated helped\ncompiler loaded: true\n');
    expect(run(program).stdout).toBe('crimson 3 decorated helped\ncompiler loaded: false\n');
  });

  it("names the TypeScript file's line in a stack trace, as ts-node does", () => {
    const thrower = path.join(work, 'thrower.ts');
    // Types and an interface the JavaScript drops, so its lines differ from the source's.
    fs.writeFileSync(thrower, ['interface Shape {', '  size: number;', '}', 'type Name = string;', 'function fail(shape: Shape, name: Name): never {', '  throw new Error(`${name} ${shape.size}`);', '}', "fail({ size: 1 }, 'boom');", ''].join('\n'));
    for (const loader of [LOADER, 'ts-node/register/transpile-only']) {
      expect({ loader, trace: run(thrower, loader).stderr }).toEqual({ loader, trace: expect.stringContaining(`at fail (${thrower}:6:`) });
    }
  });

  it('refuses a syntax error, naming file, line and column, and runs nothing of it', () => {
    const broken = path.join(work, 'broken.ts');
    fs.writeFileSync(broken, "console.log('ran');\nfunction f( { return 1; }\n");
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = run(broken);
      expect(result.status).toBe(1);
      expect(result.stdout).not.toContain('ran');
      expect(result.stderr).toMatch(/TypeScript cannot transpile cdktf\.out\/loader-test-\w+\/broken\.ts:\ncdktf\.out\/loader-test-\w+\/broken\.ts\(2,\d+\): error TS\d+: /);
    }
  });
});
