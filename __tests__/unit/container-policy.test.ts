import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdktfApp, Aspects, TerraformStack } from 'cdktf';
import { Container, ContainerConfig } from '@cdktf/provider-docker/lib/container';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { Construct } from 'constructs';
import { AppVolume } from '../../lib/app-volume';
import { CONTAINER_POLICY_RULES, ContainerPolicyLevel, ContainerPolicyRule, ContainerSecurityPolicy } from '../../lib/container-policy';
import { RunContainer } from '../../lib/run-container';
import { annotations, errorMessage, synthStack } from './support/app-runtime';

const SECURE: Omit<ContainerConfig, 'name' | 'image'> = {
  user: '441:444',
  readOnly: true,
  memory: 256,
  capabilities: { drop: ['ALL'] },
  securityOpts: ['no-new-privileges:true'],
};

/** Annotations on docker_containers after the policy ran, as "<construct id>: <level>: <rule>". */
function check(fill: (stack: TerraformStack) => void, level?: ContainerPolicyLevel): string[] {
  const { stack } = synthStack((s) => {
    fill(s);
    Aspects.of(s).add(new ContainerSecurityPolicy({ level }));
  });
  return annotations(stack)
    .filter((annotation) => annotation.message.includes('(ContainerSecurityPolicy rule '))
    .map((annotation) => {
      // The one error form: `<construct path>: invalid <attribute> <value>: <what is allowed> (ContainerSecurityPolicy rule <rule>)...`
      expect(annotation.message.startsWith(`${annotation.path}: invalid `)).toBe(true);
      const rule = /\(ContainerSecurityPolicy rule ([a-z-]+)\)/.exec(annotation.message)![1];
      return `${annotation.path.split('/').slice(1).join('/')}: ${annotation.level}: ${rule}`;
    });
}

const container = (scope: Construct, id: string, config: Partial<ContainerConfig> = {}) =>
  new Container(scope, id, { name: id.toLowerCase(), image: 'busybox', ...SECURE, ...config });

describe('ContainerSecurityPolicy', () => {
  it('passes a container with the secure settings, and our RunContainer', () => {
    expect(
      check((stack) => {
        container(stack, 'Secure');
        new RunContainer(stack, 'Run', { volume: new AppVolume(stack, 'Vol', { appName: 'x', image: 'run-image' }), image: 'i', language: 'static' });
      }),
    ).toEqual([]);
  });

  it('flags a user-added container with none of them: one error per rule', () => {
    expect(check((stack) => new Container(stack, 'Bare', { name: 'bare', image: 'busybox' }))).toEqual([
      'Bare: error: non-root-user',
      'Bare: error: read-only-root-fs',
      'Bare: error: memory-limit',
      'Bare: error: drop-all-capabilities',
      'Bare: error: no-new-privileges',
    ]);
  });

  it.each([
    [{ user: 'root' }, 'non-root-user'],
    [{ user: '0:0' }, 'non-root-user'],
    [{ user: '0' }, 'non-root-user'],
    [{ user: '' }, 'non-root-user'],
    [{ readOnly: false }, 'read-only-root-fs'],
    [{ memory: 0 }, 'memory-limit'],
    [{ capabilities: { drop: ['NET_RAW'] } }, 'drop-all-capabilities'],
    [{ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }, 'drop-all-capabilities'],
    [{ securityOpts: [] }, 'no-new-privileges'],
    [{ privileged: true }, 'not-privileged'],
    [{ mounts: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', readOnly: true }] }, 'no-host-control-mounts'],
    [{ mounts: [{ type: 'bind', source: '/run/docker.sock', target: '/d' }] }, 'no-host-control-mounts'],
    [{ volumes: [{ hostPath: '/', containerPath: '/host' }] }, 'no-host-control-mounts'],
  ])('flags %j as %s', (config, rule) => {
    expect(check((stack) => container(stack, 'C', config))).toEqual([`C: error: ${rule}`]);
  });

  it('accepts bind mounts of other host paths, and named volumes', () => {
    expect(
      check((stack) =>
        container(stack, 'C', {
          mounts: [{ type: 'bind', source: '/srv/config', target: '/etc/app' }, { type: 'volume', source: 'data', target: '/data' }],
          volumes: [{ hostPath: '/srv/spool', containerPath: '/spool' }],
        }),
      ),
    ).toEqual([]);
  });

  it('accepts lowercase "all" and the no-new-privileges spellings', () => {
    expect(check((stack) => container(stack, 'C', { capabilities: { drop: ['all'] }, securityOpts: ['no-new-privileges'] }))).toEqual([]);
  });

  it('sees escape-hatch overrides', () => {
    expect(
      check((stack) => {
        container(stack, 'C').addOverride('read_only', false);
      }),
    ).toEqual(['C: error: read-only-root-fs']);
  });

  it('can report warnings instead of errors', () => {
    expect(check((stack) => container(stack, 'C', { readOnly: false }), ContainerPolicyLevel.WARNING)).toEqual(['C: warn: read-only-root-fs']);
  });

  it('exempts a construct subtree explicitly, per rule, and records the reason', () => {
    const { stack } = synthStack((s) => {
      const legacy = new Construct(s, 'Legacy');
      container(legacy, 'Writer', { readOnly: false, user: 'root' });
      ContainerSecurityPolicy.exempt(legacy, 'legacy importer writes to /var/spool until ticket 42', [ContainerPolicyRule.READ_ONLY_ROOT_FS]);
      Aspects.of(s).add(new ContainerSecurityPolicy());
    });
    const found = annotations(stack).map((a) => `${a.level}: ${a.message}`);
    expect(found).toContainEqual('info: test/Legacy/Writer: invalid read_only false: set true: the root file system must not be writable (ContainerSecurityPolicy rule read-only-root-fs); exempt: legacy importer writes to /var/spool until ticket 42');
    expect(found).toContainEqual(expect.stringMatching(/^error: test\/Legacy\/Writer: invalid user 'root': give a user that is not root \(ContainerSecurityPolicy rule non-root-user\)/));
  });

  it('exempts every rule by default and insists on a reason and known rules', () => {
    expect(
      check((stack) => {
        const c = new Container(stack, 'Bare', { name: 'bare', image: 'busybox' });
        ContainerSecurityPolicy.exempt(c, 'a vendor sidecar we do not control');
      }),
    ).toEqual(
      CONTAINER_POLICY_RULES.filter((rule) => rule !== ContainerPolicyRule.NOT_PRIVILEGED && rule !== ContainerPolicyRule.NO_HOST_CONTROL_MOUNTS).map((rule) => `Bare: info: ${rule}`),
    );
    const { stack } = synthStack(() => undefined);
    expect(errorMessage(() => ContainerSecurityPolicy.exempt(stack, ''))).toBe(
      "test: invalid ContainerSecurityPolicy exemption reason '': give a reason (at least a few words)",
    );
    expect(errorMessage(() => ContainerSecurityPolicy.exempt(stack, 'because', ['no-root' as any]))).toBe(
      "test: invalid ContainerSecurityPolicy exemption rule 'no-root': use one of " +
        CONTAINER_POLICY_RULES.map((rule) => `ContainerPolicyRule.${rule.toUpperCase().replace(/-/g, '_')} ('${rule}')`).join(', '),
    );
    expect(errorMessage(() => new ContainerSecurityPolicy({ level: 'fatal' as any }))).toBe(
      "invalid ContainerSecurityPolicyProps.level 'fatal': use ContainerPolicyLevel.ERROR ('error') or ContainerPolicyLevel.WARNING ('warning')",
    );
  });

  it('fails a real synth with the error annotations', () => {
    const app = new CdktfApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'policy-')) });
    const stack = new TerraformStack(app, 'insecure');
    new DockerProvider(stack, 'docker', {});
    new Container(stack, 'Bare', { name: 'bare', image: 'busybox' });
    Aspects.of(stack).add(new ContainerSecurityPolicy());
    expect(() => app.synth()).toThrow(/\[insecure\/Bare\] insecure\/Bare: invalid user undefined: set a user that is not root .* \(ContainerSecurityPolicy rule non-root-user\)/);
  });
});
