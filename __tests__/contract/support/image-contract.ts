/**
 * The checks every image built on images/base must pass, as one jest block: `imageContract(ref)` inside a
 * describe, after the image is built. Used by base.test.ts and the build-*.test.ts files.
 */
import { bashIn, outputOf, runIn, BuildVolume, MOP_GID, MOP_UID, ZOMBIE_PROBE, zombieProbeWithoutReaper } from './build';

export interface ImageContractOptions {
  /** Commands that must resolve on PATH to /opt/modulus/bin/<name>. */
  commands?: string[];
}

export function imageContract(image: () => string, options: ImageContractOptions = {}): void {
  it('runs as mop (441:444) with home /mnt/home and bash', () => {
    const result = bashIn(image(), 'echo "$(id -u):$(id -g) $(id -un):$(id -gn)"; getent passwd mop');
    expect(outputOf(result)).toContain(`${MOP_UID}:${MOP_GID} mop:mop`);
    expect(result.stdout).toMatch(new RegExp(`^mop:x:${MOP_UID}:${MOP_GID}:.*:/mnt/home:/bin/bash$`, 'm'));
    expect(result.status).toBe(0);
  });

  it('sets HOME, TEMP_DIR, TMPDIR, TMP_DIR and puts /opt/modulus/bin first on PATH', () => {
    const result = bashIn(image(), 'for v in HOME TEMP_DIR TMPDIR TMP_DIR PATH; do echo "$v=${!v}"; done');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('HOME=/mnt/home\n');
    expect(result.stdout).toContain('TEMP_DIR=/mnt/tmp\n');
    expect(result.stdout).toContain('TMPDIR=/mnt/tmp\n');
    expect(result.stdout).toContain('TMP_DIR=/mnt/tmp\n');
    expect(result.stdout).toMatch(/^PATH=\/opt\/modulus\/bin:/m);
  });

  for (const command of options.commands ?? []) {
    it(`has \`${command}\` on PATH in /opt/modulus/bin`, () => {
      const result = bashIn(image(), `command -v ${command} && test -x "$(command -v ${command})"`);
      expect(result.stdout.trim()).toBe(`/opt/modulus/bin/${command}`);
      expect(result.status).toBe(0);
    });
  }

  it('may write in /mnt but nowhere else (read-only root filesystem)', () => {
    const outside = ['/', '/etc', '/opt/modulus', '/opt/modulus/bin', '/usr/local/bin', '/tmp', '/var/tmp', '/root', '/home'];
    const script = [
      ...outside.map((dir) => `if touch ${dir}/.modulus-write-test 2>/dev/null; then echo "WROTE ${dir}"; else echo "denied ${dir}"; fi`),
      'echo ok > /mnt/tmp/probe && echo ok > /mnt/home/probe && echo "wrote /mnt"',
    ].join('\n');
    const result = bashIn(image(), script);
    expect(outputOf(result)).not.toContain('WROTE');
    for (const dir of outside) expect(result.stdout).toContain(`denied ${dir}\n`);
    expect(result.stdout).toContain('wrote /mnt');
  });

  it('has no file mop could write or owns outside /mnt, even without --read-only', () => {
    // /tmp and /var/tmp are sticky 1777 scratch dirs (apt's sandbox user needs them at image build time);
    // read-only mounting closes them at run time, as the test above shows.
    const script =
      'find / -xdev \\( -path /mnt -o -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp \\) -prune -o ' +
      '\\( -writable -o -user mop -o -group mop \\) -print 2>/dev/null | head -n 20; echo done';
    const result = runIn(image(), ['bash', '-c', script], { readOnly: false, volume: new BuildVolume().dir });
    expect(result.stdout.trim()).toBe('done');
  });

  it('has no setuid or setgid file (su, mount, passwd, ... are plain programs)', () => {
    // As root and without --read-only: find must see every file, and the image, not the run restrictions, is checked.
    const script =
      'find / -xdev \\( -path /mnt -o -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -perm /6000 -print; ' +
      'stat -c "%a %n" /usr/bin/su /usr/bin/passwd; echo done';
    const result = runIn(image(), ['bash', '-c', script], { readOnly: false, user: 'root', volume: new BuildVolume().dir });
    expect(result.stdout).toBe('755 /usr/bin/su\n755 /usr/bin/passwd\ndone\n');
  });

  it('runs tini as PID 1, so an orphaned child leaves no zombie', () => {
    const result = bashIn(image(), `tr '\\0' ' ' </proc/1/cmdline; echo; ${ZOMBIE_PROBE}`);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^\/opt\/modulus\/bin\/init -- /);
    expect(result.stdout).toContain('zombies=0');
  });

  it('(control) the zombie probe does see the zombie under a PID 1 that never reaps', () => {
    const result = zombieProbeWithoutReaper(image());
    expect(result.stdout).toContain('zombies=1');
  });

  it('has no ssh server or client', () => {
    const result = bashIn(image(), 'command -v sshd ssh || echo none; ls /etc/ssh 2>/dev/null || echo no-etc-ssh');
    expect(result.stdout).toBe('none\nno-etc-ssh\n');
  });

  it('keeps /opt/modulus root-owned and read-only for mop', () => {
    const result = runIn(image(), ['bash', '-c', 'stat -c "%U:%G %a %n" /opt/modulus /opt/modulus/bin; test -w /opt/modulus/bin || echo not-writable'], {
      readOnly: false,
      volume: new BuildVolume().dir,
    });
    expect(result.stdout).toMatch(/^root:root 755 \/opt\/modulus\nroot:root 755 \/opt\/modulus\/bin\nnot-writable\n$/);
  });
}
