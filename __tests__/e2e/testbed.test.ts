import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bash, docker, ok, REPO_ROOT, Run } from './support/shell';
import { registryStatus, ROOT_IMAGE, startTestbed, Testbed } from './support/testbed';

/**
 * The multi-host testbed for issue 13, checked with real parts: Debian's docker-registry on 127.0.0.1 (basic
 * auth), and host B, a second Docker engine in a container of engine A reached only over SSH. Engine A pushes,
 * B pulls by digest; B is driven with the docker CLI's and the kreuzwerker provider's ssh:// host; a loop volume
 * made over SSH lives in B's filesystem and bounds a hardened container of B's engine. Needs
 * scripts/toolchain/setup.sh (Terraform and the provider mirror) and the root image. The tests run in order: the
 * later ones use the digest the registry test pushed, so run the file whole (a -t filter fails them).
 */
jest.setTimeout(10 * 60_000);

const ENV_SH = path.join(REPO_ROOT, 'scripts/toolchain/env.sh');
const HARDENED = ['--read-only', '--user', '441:444', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--memory', '64m'];
const id = randomBytes(4).toString('hex');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-e2e-testbed-'));

let bed: Testbed | undefined;
/** The probe image as pushed: `${registry}/probe:1` and `${registry}/probe@sha256:...`. */
let probeTag = '';
let probeByDigest = '';
let stopped = false;

const testbed = (): Testbed => {
  if (!bed) throw new Error('the testbed did not come up (see beforeAll)');
  return bed;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const output = (run: Run) => `${run.stdout}${run.stderr}`;
const PROVIDERS = {
  docker: 'docker = { source = "kreuzwerker/docker", version = "3.6.2" }',
  null: 'null = { source = "hashicorp/null", version = "3.2.4" }',
};

/**
 * Writes a Terraform configuration (the provider requirement and `body`) to its own folder, runs `terraform init`
 * with the toolchain's provider mirror, and returns a runner for further commands (values through `env` only).
 */
function terraformConfig(name: string, provider: keyof typeof PROVIDERS, body: string, env: Record<string, string> = {}): (args: string) => Run {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'main.tf'), `terraform {\n  required_providers {\n    ${PROVIDERS[provider]}\n  }\n}\n${body}`);
  const terraform = (args: string) => bash(`source "$ENV_SH"\nterraform ${args} -no-color`, { cwd: dir, env: { ENV_SH, ...env } });
  ok(terraform('init -input=false'), `terraform init (${name})`);
  return terraform;
}

beforeAll(async () => {
  bed = await startTestbed();
  const t = bed.timings;
  console.log(
    `testbed bring-up: packages ${seconds(t.packages)}, registry ${seconds(t.registry)}, host B image build ${seconds(t.hostBImage)}, ` +
      `host B start ${seconds(t.hostB)} (registry ${bed.registry.address}, host B ${bed.hostB.dockerHost})`,
  );
}, 20 * 60_000);

afterAll(async () => {
  if (probeTag) docker('rmi', probeTag);
  await bed?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('registry', () => {
  it('enforces basic auth, runs as a non-root user, and stores what engine A pushes in its own folder', async () => {
    const { registry } = testbed();
    expect(await registryStatus(registry)).toEqual({ anonymous: 401, authenticated: 200 });
    const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${registry.pid}/status`, 'utf8'));
    expect(uid).not.toBeNull();
    expect(Number(uid![1])).toBeGreaterThan(0);

    probeTag = `${registry.address}/probe:1`;
    ok(docker('tag', ROOT_IMAGE, probeTag), 'docker tag');
    const pushed = Date.now();
    const push = bash('docker push "$PROBE"', { env: { PROBE: probeTag, DOCKER_CONFIG: registry.dockerConfig } });
    ok(push, 'docker push');
    console.log(`push of ${ROOT_IMAGE} from engine A: ${seconds(Date.now() - pushed)}`);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
    expect(digest).toBeDefined();
    probeByDigest = `${registry.address}/probe@${digest}`;
    expect(ok(docker('image', 'inspect', '--format', '{{json .RepoDigests}}', probeTag), 'inspect').trim()).toContain(probeByDigest);
    const revision = path.join(registry.storage, 'docker/registry/v2/repositories/probe/_manifests/revisions/sha256', digest!.slice(7), 'link');
    expect(fs.readFileSync(revision, 'utf8')).toBe(digest);

    // Engine A keeps no reference to the pushed image: whatever B has next came through the registry.
    ok(docker('rmi', probeTag), 'docker rmi');
    probeTag = '';
    expect(docker('image', 'inspect', probeByDigest).status).not.toBe(0);
  });
});

describe('host B over SSH', () => {
  it('(a) the docker CLI reaches B\'s own engine with the generated key and the pinned host key', () => {
    const { hostB } = testbed();
    const format = '{{.ID}} {{.ServerVersion}} {{.Driver}}';
    const a = ok(docker('info', '--format', format), 'docker info on A').trim().split(' ');
    const b = ok(hostB.docker(['info', '--format', format]), 'docker -H ssh:// info').trim().split(' ');
    expect(b[0]).toMatch(/\S/);
    expect(b[0]).not.toBe(a[0]);
    expect(b[2]).toBe('overlay2');
    // The engine answering is the one in B's container.
    expect(ok(docker('exec', hostB.container, 'docker', 'info', '--format', '{{.ID}}'), 'docker info in B').trim()).toBe(b[0]);

    // sshd listens on 127.0.0.1:<port> only (host network: A's socket table is B's).
    const listening = ok(bash('ss -Hltn "sport = :$PORT"', { env: { PORT: String(hostB.sshPort) } }), 'ss')
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(listening).toEqual([`127.0.0.1:${hostB.sshPort}`]);
    expect(fs.readFileSync(hostB.knownHostsPath, 'utf8')).toBe(`${hostB.knownHostsLine}\n`);
    expect(hostB.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${hostB.sshPort} ssh-ed25519 [A-Za-z0-9+/=]+$`));
  });

  it('(a) refuses a host key other than the recorded one, and a client key B does not know', () => {
    const { hostB } = testbed();
    ok(bash('ssh-keygen -q -t ed25519 -N "" -f "$DIR/other" </dev/null >/dev/null', { env: { DIR: work } }), 'ssh-keygen');
    const other = fs.readFileSync(path.join(work, 'other.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const config = fs.readFileSync(hostB.sshConfigPath, 'utf8');
    fs.writeFileSync(path.join(work, 'wrong_known_hosts'), `[127.0.0.1]:${hostB.sshPort} ${other}\n`);
    fs.writeFileSync(path.join(work, 'wrong-host-key.conf'), config.replace(hostB.knownHostsPath, path.join(work, 'wrong_known_hosts')));
    fs.writeFileSync(path.join(work, 'wrong-client-key.conf'), config.replace(hostB.privateKeyPath, path.join(work, 'other')));
    const ssh = (conf: string) => bash('ssh -F "$CONF" 127.0.0.1 true', { env: { CONF: path.join(work, conf) } });
    const wrongHost = ssh('wrong-host-key.conf');
    expect(wrongHost.status).toBe(255);
    expect(wrongHost.stderr).toMatch(/Host key verification failed/);
    const wrongClient = ssh('wrong-client-key.conf');
    expect(wrongClient.status).toBe(255);
    expect(wrongClient.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(ssh(path.relative(work, hostB.sshConfigPath)).status).toBe(0);
  });

  it('(a) the kreuzwerker provider\'s ssh:// host (ssh_opts) with registry_auth pulls onto B, not A', () => {
    const { hostB, registry } = testbed();
    const tag = `${registry.address}/probe:1`;
    // The password reaches Terraform through the environment only.
    const terraform = terraformConfig(
      'terraform',
      'docker',
      `variable "registry_password" {
  type      = string
  sensitive = true
}
provider "docker" {
  host     = ${JSON.stringify(hostB.dockerHost)}
  ssh_opts = ${JSON.stringify(hostB.sshOpts)}
  registry_auth {
    address  = ${JSON.stringify(registry.address)}
    username = ${JSON.stringify(registry.username)}
    password = var.registry_password
  }
}
resource "docker_image" "probe" {
  name         = ${JSON.stringify(tag)}
  keep_locally = false
}
output "repo_digest" { value = docker_image.probe.repo_digest }
`,
      { TF_VAR_registry_password: registry.password },
    );
    const started = Date.now();
    const apply = terraform('apply -input=false -auto-approve');
    ok(apply, 'terraform apply');
    console.log(`terraform apply (docker_image over ssh:// with registry_auth): ${seconds(Date.now() - started)}`);
    expect(apply.stdout).not.toContain(registry.password);
    expect(JSON.parse(ok(terraform('output -json repo_digest'), 'terraform output'))).toBe(probeByDigest);
    expect(ok(hostB.docker(['image', 'inspect', '--format', '{{json .RepoTags}}', tag]), 'inspect on B')).toContain(tag);
    expect(docker('image', 'inspect', tag).status).not.toBe(0);
    ok(terraform('destroy -input=false -auto-approve'), 'terraform destroy');
    expect(hostB.docker(['image', 'inspect', tag]).status).not.toBe(0);
  });

  it('(b) B\'s filesystem is not A\'s', () => {
    const { hostB } = testbed();
    const marker = `/modulus-testbed-marker-${id}`;
    ok(hostB.ssh('printf %s "$ID" > "$MARKER"', { ID: id, MARKER: marker }), 'create the marker on B');
    expect(ok(hostB.ssh('cat "$MARKER"', { MARKER: marker }), 'read the marker on B')).toBe(id);
    expect(fs.existsSync(marker)).toBe(false);
    const onA = path.join(work, 'only-on-a');
    fs.writeFileSync(onA, id);
    expect(hostB.ssh('test ! -e "$F"', { F: onA }).status).toBe(0);
    // The same check for B's engine: its data root is its own volume, not A's /var/lib/docker.
    expect(ok(hostB.ssh('test -e "$MARKER" && rm -f "$MARKER" && echo removed', { MARKER: marker }), 'remove the marker').trim()).toBe('removed');
  });

  it('(d) B pulls the pushed image by digest with the registry credentials, and not without them', () => {
    const { hostB, registry } = testbed();
    expect(probeByDigest).toMatch(/@sha256:[0-9a-f]{64}$/);
    const anonymous = path.join(work, 'no-credentials');
    fs.mkdirSync(anonymous);
    const refused = hostB.docker(['pull', probeByDigest], { DOCKER_CONFIG: anonymous });
    expect(refused.status).not.toBe(0);
    expect(output(refused)).toMatch(/no basic auth credentials|unauthorized/);
    const started = Date.now();
    ok(hostB.docker(['pull', probeByDigest], { DOCKER_CONFIG: registry.dockerConfig }), 'docker -H ssh:// pull');
    console.log(`pull by digest on B over SSH: ${seconds(Date.now() - started)}`);
    const onB = ok(hostB.docker(['image', 'inspect', '--format', '{{.Id}}', probeByDigest]), 'inspect on B').trim();
    expect(onB).toBe(ok(docker('image', 'inspect', '--format', '{{.Id}}', ROOT_IMAGE), 'inspect on A').trim());
  });

  it('(c) a loop volume made over SSH lives on B and bounds a hardened container of B\'s engine', () => {
    const { hostB } = testbed();
    const image = `/var/lib/modulus/testbed-${id}.img`;
    const mount = `/var/lib/modulus/testbed-${id}`;
    const made = ok(
      hostB.ssh(
        [
          'truncate -s 64M "$IMG"',
          'mkfs.ext4 -q -F "$IMG"',
          'mkdir -p "$MNT"',
          'mount -o loop "$IMG" "$MNT"',
          'chown 441:444 "$MNT"',
          'findmnt -n -o SOURCE,FSTYPE "$MNT"',
        ].join('\n'),
        { IMG: image, MNT: mount },
      ),
      'make the loop volume on B',
    );
    expect(made.trim()).toMatch(/^\/dev\/loop\d+\s+ext4$/);
    expect(fs.existsSync(image)).toBe(false);
    expect(fs.existsSync(mount)).toBe(false);

    const script = [
      'echo hello > /mnt/data/hello && cat /mnt/data/hello',
      'if touch /outside 2>/dev/null; then echo root-writable; fi',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
      'id -u; id -g',
      'grep ^CapEff /proc/self/status',
      'dd if=/dev/zero of=/mnt/data/fill bs=1M count=100 status=none; echo "dd=$?"',
    ].join('\n');
    const run = hostB.docker(['run', '--rm', ...HARDENED, '-v', `${mount}:/mnt/data`, probeByDigest, 'bash', '-c', script]);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual(['hello', '67108864', '441', '444', 'CapEff:\t0000000000000000', expect.stringMatching(/^dd=[1-9]\d*$/)]);
    expect(run.stderr).toMatch(/No space left on device/);

    const onB = ok(hostB.ssh('cat "$MNT/hello"; stat -c %s "$MNT/fill"; umount "$MNT"; test ! -e "$MNT/hello" && echo unmounted', { MNT: mount }), 'read back on B')
      .trim()
      .split('\n');
    expect(onB[0]).toBe('hello');
    expect(Number(onB[1])).toBeGreaterThan(32 << 20);
    expect(Number(onB[1])).toBeLessThan(64 << 20);
    expect(onB[2]).toBe('unmounted');
  });
});

describe('scripts/volume on host B', () => {
  it('Terraform\'s SSH communicator (null_resource: file + remote-exec, host_key pinned) runs modulus-volume.sh on B', () => {
    const { hostB } = testbed();
    const app = `tb${id}`;
    const remote = `/usr/local/lib/modulus-testbed-${id}`;
    const hcl = (value: unknown) => JSON.stringify(value);
    // Destroy-time provisioners may only read self: the connection's values ride in triggers.
    const terraform = terraformConfig(
      'provision',
      'null',
      `resource "null_resource" "volume" {
  triggers = {
    host     = ${hcl(hostB.sshHost)}
    port     = ${hcl(String(hostB.sshPort))}
    key      = ${hcl(hostB.privateKeyPath)}
    host_key = ${hcl(hostB.hostPublicKey)}
    remote   = ${hcl(remote)}
    app      = ${hcl(app)}
  }
  connection {
    type        = "ssh"
    host        = self.triggers.host
    port        = tonumber(self.triggers.port)
    user        = "root"
    private_key = file(self.triggers.key)
    host_key    = self.triggers.host_key
    agent       = false
  }
  provisioner "remote-exec" {
    inline = ["mkdir -p \${self.triggers.remote}"]
  }
  provisioner "file" {
    source      = ${hcl(`${path.join(REPO_ROOT, 'scripts/volume')}/`)}
    destination = self.triggers.remote
  }
  provisioner "remote-exec" {
    inline = ["MODULUS_APP=\${self.triggers.app} MODULUS_SIZE_MIB=64 bash \${self.triggers.remote}/modulus-volume.sh create"]
  }
  provisioner "remote-exec" {
    when   = destroy
    inline = [
      "MODULUS_APP=\${self.triggers.app} MODULUS_REMOVAL_POLICY=destroy bash \${self.triggers.remote}/modulus-volume.sh set-policy",
      "MODULUS_APP=\${self.triggers.app} bash \${self.triggers.remote}/modulus-volume.sh destroy",
      "rm -rf \${self.triggers.remote}",
    ]
  }
}
`,
    );
    const started = Date.now();
    ok(terraform('apply -input=false -auto-approve'), 'terraform apply (null_resource over SSH)');
    console.log(`terraform apply (null_resource: file + remote-exec modulus-volume.sh create on B): ${seconds(Date.now() - started)}`);

    const volume = (command: string) => hostB.ssh(`bash "$DEST/modulus-volume.sh" ${command}`, { DEST: remote, MODULUS_APP: app });
    const status = Object.fromEntries(
      ok(volume('status'), 'modulus-volume.sh status')
        .trim()
        .split('\n')
        .map((line) => line.split('=', 2) as [string, string]),
    );
    expect(status).toMatchObject({ app, backend: 'loopfile', exists: 'true', mounted: 'true' });
    expect(Number(status.size_mib)).toBe(64);
    expect(fs.existsSync(status.mount)).toBe(false);

    const run = hostB.docker(['run', '--rm', ...HARDENED, '-v', `${status.mount}:/mnt`, probeByDigest, 'bash', '-c', 'echo ok > /mnt/tmp/probe && cat /mnt/tmp/probe']);
    expect(output(run)).toBe('ok\n');
    expect(run.status).toBe(0);

    ok(terraform('destroy -input=false -auto-approve'), 'terraform destroy (destroy-time remote-exec)');
    expect(ok(hostB.ssh('findmnt -rn -o TARGET | grep -c "$APP" || true; test -e "$DEST" && echo scripts-left || true', { APP: app, DEST: remote }), 'after destroy').trim()).toBe('0');
  });

  it('Terraform\'s SSH communicator refuses B when the pinned host_key is another', () => {
    const { hostB } = testbed();
    const other = fs.readFileSync(path.join(work, 'other.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const terraform = terraformConfig(
      'wrong-host-key',
      'null',
      `resource "null_resource" "probe" {
  connection {
    type        = "ssh"
    host        = ${JSON.stringify(hostB.sshHost)}
    port        = ${hostB.sshPort}
    user        = "root"
    private_key = file(${JSON.stringify(hostB.privateKeyPath)})
    host_key    = ${JSON.stringify(other)}
    agent       = false
    timeout     = "10s"
  }
  provisioner "remote-exec" {
    inline = ["touch /should-not-exist-${id}"]
  }
}
`,
    );
    const apply = terraform('apply -input=false -auto-approve');
    expect(apply.status).not.toBe(0);
    expect(output(apply)).toMatch(/host key|handshake failed/i);
    expect(hostB.ssh(`test ! -e /should-not-exist-${id}`).status).toBe(0);
  });
});

describe('teardown', () => {
  it('stops the registry and host B and leaves no container, volume, cgroup, loop device or folder behind', async () => {
    const { hostB, registry } = testbed();
    // Left mounted on purpose: the teardown has to unmount it (and so free its loop device).
    ok(hostB.ssh('truncate -s 16M "$IMG" && mkfs.ext4 -q -F "$IMG" && mkdir -p "$MNT" && mount -o loop "$IMG" "$MNT"', {
      IMG: `/var/lib/modulus/left-${id}.img`,
      MNT: `/var/lib/modulus/left-${id}`,
    }), 'a mounted loop volume');
    expect(ok(bash('losetup -a'), 'losetup')).toContain(`left-${id}.img`);
    const folders = [path.dirname(hostB.privateKeyPath), path.dirname(registry.storage)];
    const cgroups = () => (fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []).map((c) => path.join('/sys/fs/cgroup', c, hostB.cgroupParent)).filter((p) => fs.existsSync(p));
    expect(cgroups().length).toBeGreaterThan(0);

    const started = Date.now();
    await testbed().stop();
    stopped = true;
    console.log(`teardown: ${seconds(Date.now() - started)}`);

    expect(docker('container', 'inspect', hostB.container).status).not.toBe(0);
    expect(docker('volume', 'ls', '-q', '--filter', `name=${hostB.container}`).stdout.trim()).toBe('');
    expect(() => process.kill(registry.pid, 0)).toThrow();
    for (const folder of folders) expect(fs.existsSync(folder)).toBe(false);
    expect(cgroups()).toEqual([]);
    expect(ok(bash('losetup -a'), 'losetup')).not.toMatch(new RegExp(`(testbed|left)-${id}\\.img`));
  });
});

afterAll(() => {
  // The teardown test stops the testbed; when it did not run, the first afterAll did.
  if (!stopped) console.log('teardown test did not run; afterAll stopped the testbed');
});
