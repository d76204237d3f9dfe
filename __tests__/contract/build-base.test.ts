/**
 * Contract of images/build-base: the image contract, the toolchain for native modules and the `build` entry
 * point (INPUT/OUTPUT and the originals' INPUT_DIR/OUTPUT_DIR, hooks in order, the timeout that kills the
 * whole build process tree).
 */
import * as fs from 'fs';
import { buildImage, docker, dockerRun } from './support/docker';
import { bashIn, buildDerivedImage, BuildVolume, chownMop, outputOf, removeTempDirs, runBuild } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';
let hooked = '';
let slow = '';

/** A hook script written into a derived test image (as root), mode 0755. */
function hook(name: string, body: string): string {
  const script = Buffer.from(`#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`).toString('base64');
  return `RUN echo ${script} | base64 -d > /opt/modulus/build.d/${name} && chmod 0755 /opt/modulus/build.d/${name}`;
}

beforeAll(() => {
  image = buildImage('build-base');
  hooked = buildDerivedImage(
    'modulus-test/build-base-hooks:latest',
    image,
    [
      'USER root',
      hook('20-second', 'echo "second sees $(cat "$OUTPUT/first.txt")"; echo second > "$OUTPUT/second.txt"; exit "${FAIL_SECOND:-0}"'),
      hook('10-first', 'echo "first: INPUT=$INPUT OUTPUT=$OUTPUT INPUT_DIR=$INPUT_DIR OUTPUT_DIR=$OUTPUT_DIR"; echo first > "$OUTPUT/first.txt"; echo "to stderr" >&2'),
      hook('30-last', 'echo last > "$OUTPUT/last.txt"'),
      // Not NN-name: must never run.
      'RUN printf "#!/bin/sh\\necho README-RAN\\n" > /opt/modulus/build.d/README && chmod 0755 /opt/modulus/build.d/README',
      'USER mop:mop',
    ].join('\n'),
  );
  slow = buildDerivedImage(
    'modulus-test/build-base-slow:latest',
    image,
    [
      'USER root',
      hook(
        '50-slow',
        [
          'echo "slow hook started"',
          // A child in its own session, a double-forked daemon in a new session, and a plain child.
          'setsid bash -c "exec -a modulus-escapee-1 sleep 1001" </dev/null >/dev/null 2>&1 &',
          '( setsid bash -c "exec -a modulus-escapee-2 sleep 1002" </dev/null >/dev/null 2>&1 & )',
          'bash -c "exec -a modulus-child-3 sleep 1003" &',
          'sleep 1000',
        ].join('\n'),
      ),
      'USER mop:mop',
    ].join('\n'),
  );
});

afterAll(removeTempDirs);

describe('build-base', () => {
  imageContract(() => image, { commands: ['build'] });

  it('has the compilers and headers native modules need', () => {
    const result = bashIn(
      image,
      [
        'cd /mnt/tmp',
        'printf "#include <openssl/ssl.h>\\n#include <zlib.h>\\nint main(void){return 0;}\\n" > t.c',
        'gcc $(pkg-config --cflags openssl zlib) t.c -o t $(pkg-config --libs openssl zlib) && ./t && echo c-ok',
        'python3 --version',
        'printf "#include <string>\\nint main(){std::string s(\\"x\\");return s.size()-1;}\\n" > t.cc && g++ t.cc -o tcc && ./tcc && echo cxx-ok',
        'make --version | head -n 1',
      ].join(' && '),
    );
    expect(outputOf(result)).toContain('c-ok');
    expect(result.stdout).toContain('cxx-ok');
    expect(result.stdout).toMatch(/GNU Make/);
  });

  it('with no language hook copies INPUT to OUTPUT and logs to stdout', () => {
    const volume = new BuildVolume(undefined, { 'index.html': 'hi\n', '.hidden': 'dot\n', 'sub/dir/file.txt': 'deep\n' });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('[build] input /mnt/input, output /mnt/output, timeout 900s');
    expect(result.stdout).toContain('no language hook');
    expect(result.stdout).toMatch(/\[build\] OK: build finished/);
    expect(volume.list('output')).toEqual(['.hidden', 'index.html', 'sub/dir/file.txt']);
  });

  it('reads the originals INPUT_DIR/OUTPUT_DIR as well as INPUT/OUTPUT', () => {
    const volume = new BuildVolume();
    fs.mkdirSync(`${volume.dir}/src`);
    fs.writeFileSync(`${volume.dir}/src/app.txt`, 'app\n');
    chownMop(`${volume.dir}/src`);
    const result = runBuild(image, volume, { INPUT_DIR: '/mnt/src', OUTPUT_DIR: '/mnt/dst' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('input /mnt/src, output /mnt/dst');
    expect(fs.readFileSync(`${volume.dir}/dst/app.txt`, 'utf8')).toBe('app\n');
  });

  it('works on a volume holding only input/: creates output/, home/ and tmp/ as mop', () => {
    const volume = new BuildVolume(undefined, { 'a.txt': 'a\n' });
    for (const sub of ['output', 'home', 'tmp']) fs.rmdirSync(`${volume.dir}/${sub}`);
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(fs.readdirSync(volume.dir).sort()).toEqual(['home', 'input', 'output', 'tmp']);
    for (const sub of ['output', 'home', 'tmp']) expect(fs.statSync(`${volume.dir}/${sub}`).uid).toBe(441);
    expect(fs.readFileSync(volume.out('a.txt'), 'utf8')).toBe('a\n');
  });

  it('runs NN-name hooks in order with INPUT/OUTPUT exported, stderr folded into stdout', () => {
    const volume = new BuildVolume(undefined, { 'a.txt': 'a\n' });
    const result = runBuild(hooked, volume);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('first: INPUT=/mnt/input OUTPUT=/mnt/output INPUT_DIR=/mnt/input OUTPUT_DIR=/mnt/output');
    expect(result.stdout).toContain('second sees first');
    expect(result.stdout).toContain('to stderr');
    expect(result.stdout).not.toContain('README-RAN');
    expect(result.stdout.indexOf('hook 10-first: start')).toBeLessThan(result.stdout.indexOf('hook 20-second: start'));
    expect(result.stdout.indexOf('hook 20-second: done')).toBeLessThan(result.stdout.indexOf('hook 30-last: start'));
    expect(volume.list('output')).toEqual(['first.txt', 'last.txt', 'second.txt']);
  });

  it('stops at a failing hook and exits with its status', () => {
    const volume = new BuildVolume();
    const result = runBuild(hooked, volume, { FAIL_SECOND: '7' });
    expect(result.status).toBe(7);
    expect(result.stdout).toContain('hook 20-second: failed with status 7');
    expect(result.stdout).toContain('[build] FAILED with status 7');
    expect(result.stdout).not.toContain('hook 30-last');
    expect(volume.list('output')).toEqual(['first.txt', 'second.txt']);
  });

  it('rejects a missing input folder and a bad BUILD_TIMEOUT with a message', () => {
    const volume = new BuildVolume();
    const missing = runBuild(image, volume, { INPUT: '/mnt/nowhere' });
    expect(missing.status).not.toBe(0);
    expect(missing.stdout).toContain('ERROR: input folder /mnt/nowhere does not exist');
    const bad = runBuild(image, volume, { BUILD_TIMEOUT: '15m' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain("BUILD_TIMEOUT must be a positive number of seconds, got '15m'");
  });

  it('kills the whole build process tree, daemons included, when BUILD_TIMEOUT passes', () => {
    const volume = new BuildVolume();
    // A long-lived container, so that processes the build leaves behind would still be visible afterwards.
    const container = docker(['run', '-d', '--read-only', '--network', 'none', '-v', `${volume.dir}:/mnt`, slow, 'sleep', 'infinity']).trim();
    const markers = [
      'n=0',
      'for f in /proc/[0-9]*/cmdline; do',
      '  c=$(tr "\\0" " " < "$f" 2>/dev/null) || continue',
      '  case "$c" in "modulus-escapee-1 1001 "|"modulus-escapee-2 1002 "|"modulus-child-3 1003 "|"sleep 1000 ") n=$((n + 1));; esac',
      'done',
      'echo "$n"',
    ].join('\n');
    try {
      docker(['exec', '-d', '-e', 'BUILD_TIMEOUT=6', container, 'bash', '-c', 'build > /mnt/tmp/build.log; echo $? > /mnt/tmp/build.status']);
      // While the build runs, its processes exist: the hook's `sleep 1000` and the three marked ones.
      let running = 0;
      for (let i = 0; i < 30 && running < 4; i++) {
        spinWait(200);
        running = Number(docker(['exec', container, 'bash', '-c', markers]).trim());
      }
      expect(running).toBe(4);
      const started = Date.now();
      while (!fs.existsSync(`${volume.dir}/tmp/build.status`) && Date.now() - started < 60_000) spinWait(250);
      const status = fs.readFileSync(`${volume.dir}/tmp/build.status`, 'utf8').trim();
      const log = fs.readFileSync(`${volume.dir}/tmp/build.log`, 'utf8');
      expect(status).toBe('124');
      expect(log).toContain('slow hook started');
      expect(log).toContain('[build] TIMEOUT: the build exceeded BUILD_TIMEOUT=6s; killing the build process tree');
      expect(log).toContain('[build] FAILED: build timed out after 6 seconds');
      // None of them is left (the container itself lives on); no zombies either.
      expect(docker(['exec', container, 'bash', '-c', markers]).trim()).toBe('0');
      const zombies = dockerRun(['exec', container, 'bash', '-c', 'grep -l "^State:.Z" /proc/[0-9]*/status 2>/dev/null | wc -l']);
      expect(zombies.stdout.trim()).toBe('0');
    } finally {
      dockerRun(['rm', '-f', container]);
    }
  });
});

function spinWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
