import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../harness/checkout';
import { tempDir } from '../unit/support/temp';

jest.setTimeout(5 * 60_000);

const modeOf = (file: string) => (fs.statSync(file).mode & 0o7777).toString(8).padStart(4, '0');

describe('local state files', () => {
  // Real Terraform (scripts/toolchain: Terraform 1.5.7 and the provider mirror), no Docker: a stack with one output.
  it('a real deploy, through scripts/toolchain/cdktf.sh and by npx cdktf directly, under umask 022, leaves 0600 state files', () => {
    const dir = tempDir('modulus-state-deploy-');
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'ES2020', esModuleInterop: true } }));
    fs.writeFileSync(
      path.join(dir, 'cdktf.json'),
      JSON.stringify({ language: 'typescript', app: 'npx ts-node --transpile-only main.ts', projectId: 'state-mode', sendCrashReports: 'false', terraformProviders: [] }),
    );
    // The docker provider is never configured: no resource uses it.
    fs.writeFileSync(
      path.join(dir, 'main.ts'),
      `import { App, TerraformOutput } from 'cdktf';\n` +
        `import { ModulusStack } from ${JSON.stringify(path.join(REPO_ROOT, 'lib/modulus-stack'))};\n` +
        `const app = new App({ skipValidation: true });\n` +
        `const stack = new ModulusStack(app, 'tiny', { dockerHost: 'unix:///nonexistent/modulus-docker.sock' });\n` +
        `new TerraformOutput(stack, 'value', { value: process.env.TINY_VALUE ?? 'a' });\n` +
        `app.synth();\n`,
    );
    const run = (command: string, value: string) => {
      const script = `umask 022\nsource ${JSON.stringify(path.join(REPO_ROOT, 'scripts/toolchain/env.sh'))}\n${command}`;
      const result = spawnSync('bash', ['-c', script], { cwd: dir, env: { ...process.env, TINY_VALUE: value, CI: '1' }, encoding: 'utf8' });
      expect({ command, status: result.status, output: result.status === 0 ? '' : result.stdout + result.stderr }).toEqual({ command, status: 0, output: '' });
    };
    const modes = () => Object.fromEntries(fs.readdirSync(dir).filter((file) => file.includes('.tfstate')).map((file) => [file, modeOf(path.join(dir, file))]));
    const WRAPPER = `bash ${JSON.stringify(path.join(REPO_ROOT, 'scripts/toolchain/cdktf.sh'))}`;

    run(`${WRAPPER} deploy tiny --auto-approve --no-color`, 'a');
    expect(modes()).toEqual({ 'terraform.tiny.tfstate': '0600', 'terraform.tiny.tfstate.backup': '0600' });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'terraform.tiny.tfstate'), 'utf8')).outputs.value.value).toBe('a');

    run('npx cdktf deploy tiny --auto-approve --skip-provider-lock --no-color', 'b');
    expect(modes()).toEqual({ 'terraform.tiny.tfstate': '0600', 'terraform.tiny.tfstate.backup': '0600' });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'terraform.tiny.tfstate.backup'), 'utf8')).outputs.value.value).toBe('a');

    // State files made before this change (0644) are tightened by the next synth; `cdktf diff` keeps its saved plan
    // (which holds every value) in the stack's 0700 folder.
    for (const file of Object.keys(modes())) fs.chmodSync(path.join(dir, file), 0o644);
    run(`${WRAPPER} diff tiny --no-color`, 'c');
    expect(modes()).toEqual({ 'terraform.tiny.tfstate': '0600', 'terraform.tiny.tfstate.backup': '0600' });
    expect(fs.existsSync(path.join(dir, 'cdktf.out/stacks/tiny/plan'))).toBe(true);
    expect(modeOf(path.join(dir, 'cdktf.out/stacks/tiny'))).toBe('0700');
  });
});
