import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../harness/checkout';
import { tempDir } from '../unit/support/temp';

/**
 * Issue 21: a Terraform run that dies of a signal fails the command that ran it, naming the stack, whatever cdktf
 * returns (cdktf 0.21 takes a SIGKILLed `terraform apply` for a success). Real Terraform 1.5.7 and providers from the
 * toolchain (scripts/toolchain), no Docker: a tiny cdktf project with two stacks, `base` and `apps` (which depends
 * on base), each with a null_resource and an external data source whose commands can be made to wait, so that the
 * test can SIGKILL terraform in the middle of the apps stack's apply, destroy or plan (and, once, the process cdktf
 * started for the apply, so that the run ends without an exit status). In the e2e suite, which runs after the
 * toolchain is set up.
 */
jest.setTimeout(120_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const WRAPPER = path.join(REPO_ROOT, 'scripts/toolchain/cdktf.sh');

// FIXTURE_SLOW=<stack>-<step> makes that step touch $FIXTURE_MARKS/<stack>-<step> and wait 30 s; every other step is
// instant. (No "${" in the commands: Terraform would take it for an interpolation.)
const MAIN_JS = `
const { App, TerraformStack, TerraformOutput, LocalBackend } = require('cdktf');
const { NullProvider } = require('@cdktf/provider-null/lib/provider');
const { Resource } = require('@cdktf/provider-null/lib/resource');
const { ExternalProvider } = require('@cdktf/provider-external/lib/provider');
const { DataExternal } = require('@cdktf/provider-external/lib/data-external');
const app = new App({ skipValidation: true });
const step = (stack, name, tail = '') =>
  'if [ "$FIXTURE_SLOW" = "' + stack + '-' + name + '" ]; then touch "$FIXTURE_MARKS/' + stack + '-' + name + '"; sleep 30; fi' + tail;
function stack(name) {
  const s = new TerraformStack(app, name);
  new LocalBackend(s, { path: __dirname + '/terraform.' + name + '.tfstate' });
  new NullProvider(s, 'null');
  new ExternalProvider(s, 'external');
  const probe = new DataExternal(s, 'probe', { program: ['sh', '-c', step(name, 'plan', '; echo {}')] });
  const work = new Resource(s, 'work', { triggers: { release: process.env.FIXTURE_RELEASE || '1', probe: probe.id } });
  work.addOverride('provisioner', [
    { 'local-exec': { command: step(name, 'create') } },
    { 'local-exec': { when: 'destroy', command: step(name, 'destroy') } },
  ]);
  new TerraformOutput(s, 'release', { value: work.triggers });
  return s;
}
const base = stack('base');
stack('apps').addDependency(base);
app.synth();
`;

interface Run {
  status: number | null;
  output: string;
  killed: string[];
}

/** What to SIGKILL, and when: see run(). */
interface Kill {
  slow: string;
  subcommand: string;
  stack: string;
  argv?: [string, string];
}

describe('a Terraform run killed mid-way fails the command, naming the stack', () => {
  const dir = tempDir('modulus-terraform-exit-');
  const marks = path.join(dir, 'marks');
  const stackDir = (stack: string) => path.join(dir, 'cdktf.out/stacks', stack);

  beforeAll(() => {
    fs.mkdirSync(marks);
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'main.js'), MAIN_JS);
    fs.writeFileSync(
      path.join(dir, 'cdktf.json'),
      JSON.stringify({ language: 'typescript', app: 'node main.js', projectId: 'terraform-exit', sendCrashReports: 'false', terraformProviders: [] }),
    );
    // scripts/plan.ts plans the project it runs in (its working folder): a copy of it, with what it imports.
    fs.mkdirSync(path.join(dir, 'scripts'));
    for (const file of ['plan.ts', 'plan-summary.ts', 'stack-order.ts']) {
      fs.copyFileSync(path.join(REPO_ROOT, 'scripts', file), path.join(dir, 'scripts', file));
    }
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'ES2020', esModuleInterop: true } }));
  });
  afterAll(() => killLeftovers(dir));

  /**
   * Runs `command` (bash, env.sh sourced) in the project. With `kill`, waits until the mark of `kill.slow` appears
   * (terraform is then inside that step), SIGKILLs the process working in the stack's folder whose command line
   * holds `kill.argv` (by default `terraform <subcommand>`: the real binary, not the script that records its runs)
   * and lets the command finish.
   */
  async function run(command: string, env: Record<string, string> = {}, kill?: Kill): Promise<Run> {
    for (const mark of fs.readdirSync(marks)) fs.rmSync(path.join(marks, mark));
    const child = spawn('bash', ['-c', `source ${JSON.stringify(ENV_SH)}\n${command}`], {
      cwd: dir,
      env: { ...process.env, CI: '1', FIXTURE_MARKS: marks, FIXTURE_SLOW: kill?.slow ?? '', FIXTURE_RELEASE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
    const killed: string[] = [];
    if (kill) {
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(path.join(marks, kill.slow)) && child.exitCode === null && Date.now() < deadline) await sleep(200);
      if (!fs.existsSync(path.join(marks, kill.slow))) {
        child.kill('SIGKILL');
        await exited;
        killLeftovers(dir);
        throw new Error(`${command}: terraform never reached ${kill.slow}:\n${output}`);
      }
      const [program, subcommand] = kill.argv ?? ['terraform', kill.subcommand];
      for (const pid of processes()) {
        const args = cmdlineOf(pid).split('\0');
        const runs = args.some((arg, i) => path.basename(arg) === program && args[i + 1] === subcommand);
        if (cwdOf(pid) === stackDir(kill.stack) && runs) {
          process.kill(Number(pid), 'SIGKILL');
          killed.push(args.slice(0, 3).join(' '));
        }
      }
    }
    const status = await exited;
    killLeftovers(dir);
    return { status, output, killed };
  }
  const wrapper = (args: string) => run(`bash ${JSON.stringify(WRAPPER)} ${args} --no-color`);
  const plan = (kill?: Kill) => run(`node --require ${JSON.stringify(path.join(REPO_ROOT, 'scripts', 'typescript-loader.js'))} scripts/plan.ts`, {}, kill);
  const state = (stack: string) => {
    const file = path.join(dir, `terraform.${stack}.tfstate`);
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    return text ? JSON.parse(text).outputs?.release?.value?.release : undefined;
  };
  const didNotFinish = (output: string) => output.split('\n').filter((line) => line.includes('did not finish') || line.includes('never ran'));

  it('scripts/toolchain/cdktf.sh deploy: exits 0 when every apply finishes, non-zero naming the stack when one is SIGKILLed', async () => {
    const first = await wrapper('deploy base apps --auto-approve');
    expect({ status: first.status, lines: didNotFinish(first.output) }).toEqual({ status: 0, lines: [] });
    expect([state('base'), state('apps')]).toEqual(['1', '1']);

    const killed = await run(`bash ${JSON.stringify(WRAPPER)} deploy base apps --auto-approve --no-color`, { FIXTURE_RELEASE: '2' }, {
      slow: 'apps-create',
      subcommand: 'apply',
      stack: 'apps',
    });
    expect(killed.killed).toEqual([expect.stringMatching(/\/terraform apply -auto-approve$/)]);
    expect({ status: killed.status, lines: didNotFinish(killed.output) }).toEqual({
      status: 1,
      lines: ["cdktf.sh: stack 'apps': terraform apply did not finish (killed by SIGKILL)"],
    });
    // cdktf had applied base before apps.
    expect(state('base')).toBe('2');

    // The process cdktf started for the apply (the recording script) killed instead: cdktf then carries on and exits
    // 0 (no "Invoking Terraform CLI failed"); the run has no exit status, and the wrapper fails.
    const recorderKilled = await run(`bash ${JSON.stringify(WRAPPER)} deploy base apps --auto-approve --no-color`, { FIXTURE_RELEASE: '3' }, {
      slow: 'apps-create',
      subcommand: 'apply',
      stack: 'apps',
      argv: ['terraform-record.sh', 'apply'],
    });
    expect(recorderKilled.killed).toEqual([expect.stringMatching(/^bash \S+\/scripts\/toolchain\/terraform-record\.sh apply$/)]);
    expect({ status: recorderKilled.status, lines: didNotFinish(recorderKilled.output) }).toEqual({
      status: 1,
      lines: ["cdktf.sh: stack 'apps': terraform apply did not finish (no exit status: it or cdktf was stopped first)"],
    });
    expect(recorderKilled.output).not.toContain('Invoking Terraform CLI failed');

    // The next deploy finishes and exits 0.
    const again = await run(`bash ${JSON.stringify(WRAPPER)} deploy base apps --auto-approve --no-color`, { FIXTURE_RELEASE: '4' });
    expect({ status: again.status, lines: didNotFinish(again.output) }).toEqual({ status: 0, lines: [] });
    expect([state('base'), state('apps')]).toEqual(['4', '4']);
  });

  it('scripts/toolchain/cdktf.sh destroy and diff: non-zero naming the stack when terraform destroy or plan is SIGKILLed', async () => {
    const env = { FIXTURE_RELEASE: '5' };
    const deployed = await run(`bash ${JSON.stringify(WRAPPER)} deploy base apps --auto-approve --no-color`, env);
    expect({ status: deployed.status, lines: didNotFinish(deployed.output) }).toEqual({ status: 0, lines: [] });

    const diffKilled = await run(`bash ${JSON.stringify(WRAPPER)} diff apps --no-color`, env, { slow: 'apps-plan', subcommand: 'plan', stack: 'apps' });
    expect(diffKilled.killed).toEqual([expect.stringMatching(/\/terraform plan -input=false$/)]);
    expect(diffKilled.status).not.toBe(0);
    expect(didNotFinish(diffKilled.output)).toEqual(["cdktf.sh: stack 'apps': terraform plan did not finish (killed by SIGKILL)"]);

    const destroyKilled = await run(`bash ${JSON.stringify(WRAPPER)} destroy apps base --auto-approve --no-color`, env, {
      slow: 'apps-destroy',
      subcommand: 'destroy',
      stack: 'apps',
    });
    expect(destroyKilled.killed).toEqual([expect.stringMatching(/\/terraform destroy -auto-approve$/)]);
    expect({ status: destroyKilled.status, lines: didNotFinish(destroyKilled.output) }).toEqual({
      status: 1,
      lines: ["cdktf.sh: stack 'apps': terraform destroy did not finish (killed by SIGKILL)"],
    });
    // cdktf stopped there: base, which apps depends on, was not destroyed.
    expect(state('base')).toBe('5');
  });

  it('npm run plan (scripts/plan.ts): exits 0 when every plan finishes, 1 naming the stack when terraform plan is SIGKILLed', async () => {
    const planned = await plan();
    expect({ status: planned.status, lines: didNotFinish(planned.output) }).toEqual({ status: 0, lines: [] });
    expect(fs.readFileSync(path.join(dir, 'plan/apps.md'), 'utf8')).toContain('## Plan for stack `apps`');
    fs.rmSync(path.join(dir, 'plan'), { recursive: true });

    // apps depends on base: plan.ts used to take any failure of its plan for "base not applied yet" and exit 0.
    const killed = await plan({ slow: 'apps-plan', subcommand: 'plan', stack: 'apps' });
    expect(killed.killed).toEqual(['terraform plan -input=false']);
    expect({ status: killed.status, lines: didNotFinish(killed.output) }).toEqual({
      status: 1,
      lines: ["[plan] stack 'apps': terraform plan did not finish (killed by SIGKILL); nothing after it was planned."],
    });
    expect(fs.existsSync(path.join(dir, 'plan/summary.md'))).toBe(false);
    expect(fs.existsSync(path.join(stackDir('apps'), 'plan.tfplan'))).toBe(false);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function processes(): string[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
}

function cmdlineOf(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function cwdOf(pid: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** SIGKILLs what a killed terraform left behind (its providers, a provisioner's sleep): processes working in `dir`. */
function killLeftovers(dir: string): void {
  for (const pid of processes()) {
    const cwd = cwdOf(pid);
    if (cwd && (cwd === dir || cwd.startsWith(`${dir}/`)) && Number(pid) !== process.pid) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
