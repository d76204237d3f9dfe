/**
 * Conflicts between constructs of one stack that each construct alone cannot see: two Docker hosts with one name
 * (two docker providers with one alias), two apps with one name on one host (one volume folder, cgroup and container
 * name), two containers with one name on one host, two published ports with one host address and port.
 */
import { Container } from '@cdktf/provider-docker/lib/container';
import { IAspect, TerraformProvider, Token } from 'cdktf';
import { IConstruct } from 'constructs';
import { AppVolume } from '../app-volume';
import { DockerHost } from '../docker-host';
import { RunContainer, runContainerName } from '../run-container';
import { addSynthError, refusedConstruct } from './synth-errors';
import { invalid } from './validation';

/** An aspect for a stack: visiting the stack itself, it checks the whole tree once and records each conflict. */
export class ConflictCheck implements IAspect {
  constructor(private readonly stack: IConstruct) {}

  public visit(node: IConstruct): void {
    if (node !== this.stack) return;
    for (const error of findConflicts(this.stack)) addSynthError(error.scope, error.error);
  }
}

interface Conflict {
  readonly scope: IConstruct;
  readonly error: Error;
}

/** How messages name the host of a construct: its DockerHost's name, or the stack's own engine. */
function hostLabel(host: DockerHost | undefined): string {
  return host ? `host '${host.hostName}'` : "the stack's Docker engine";
}

/** Each later construct whose key an earlier one of its group already has: [later, earlier]. */
function duplicates<T extends IConstruct>(items: T[], key: (item: T) => string | undefined): Array<[T, T]> {
  const seen = new Map<string, T>();
  const found: Array<[T, T]> = [];
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first) found.push([item, first]);
    else seen.set(k, item);
  }
  return found;
}

export function findConflicts(stack: IConstruct): Conflict[] {
  // A construct that refused a prop has its error already; its fields may be unset.
  const all = stack.node.findAll().filter((construct) => !refusedConstruct(construct));
  const conflicts: Conflict[] = [];
  const hosts = all.filter((c): c is DockerHost => c instanceof DockerHost);
  for (const [host, first] of duplicates(hosts, (h) => h.hostName)) {
    conflicts.push({
      scope: host,
      error: invalid(host, 'hostName', host.hostName, `give each DockerHost of a stack its own name (it is its docker provider's alias): ${first.node.path} has it`),
    });
  }
  const hostKey = (host: DockerHost | undefined) => host?.node.path ?? '';

  const volumes = all.filter((c): c is AppVolume => c instanceof AppVolume);
  for (const [volume, first] of duplicates(volumes, (v) => `${hostKey(v.host)}\n${v.appName}`)) {
    conflicts.push({
      scope: volume,
      error: invalid(volume, 'appName', volume.appName, `give each app on ${hostLabel(volume.host)} its own name (it names the volume, cgroup and containers): ${first.node.path} has it`),
    });
  }
  // The run container of an app whose name is reported above is not reported again.
  const reported = new Set(duplicates(volumes, (v) => `${hostKey(v.host)}\n${v.appName}`).map(([v]) => `${hostKey(v.host)}\n${runContainerName(v.appName)}`));

  // Containers of one provider run on one engine. Names known only at apply time (the builds') are not compared.
  const providerOf = (container: Container) => (container.provider as TerraformProvider | undefined)?.node.path ?? '';
  const hostOfProvider = new Map(hosts.map((h) => [h.resource.node.path, h]));
  const containers = all.filter((c): c is Container => c instanceof Container && typeof c.nameInput === 'string' && !Token.isUnresolved(c.nameInput) && !c.nameInput.includes('${'));
  for (const [container, first] of duplicates(containers, (c) => `${providerOf(c)}\n${c.nameInput}`)) {
    const host = hostOfProvider.get(providerOf(container));
    if (reported.has(`${hostKey(host)}\n${container.nameInput}`)) continue;
    conflicts.push({
      scope: container,
      error: invalid(container, 'name', container.nameInput, `give each container on ${hostLabel(host)} its own name: ${first.node.path} has it`),
    });
  }

  // Every published host address and port, in tree order; 0.0.0.0 (or ::) overlaps every address of its port.
  const published = all
    .filter((c): c is RunContainer => c instanceof RunContainer)
    .flatMap((run) => run._published.map((address) => ({ run, host: hostOfProvider.get(providerOf(run.resource)), ...address })));
  published.forEach((mine, i) => {
    const wildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
    const earlier = published
      .slice(0, i)
      .find((theirs) => hostKey(theirs.host) === hostKey(mine.host) && theirs.port === mine.port && (theirs.ip === mine.ip || wildcard(theirs.ip) || wildcard(mine.ip)));
    if (!earlier) return;
    // With host networking an app takes its port on every address of the host.
    const takes = (entry: typeof mine) => (entry.field === 'publish' ? `publishes ${entry.ip}:${entry.port}` : `listens on port ${entry.port} of the host (host networking)`);
    const where = earlier.run === mine.run ? 'another of its ports has it' : `${earlier.run.node.path} ${takes(earlier)}`;
    const value = mine.field === 'publish' ? `${mine.ip}:${mine.port}` : mine.port;
    conflicts.push({
      scope: mine.run,
      error: invalid(mine.run, mine.field, value, `give each app on ${hostLabel(mine.host)} its own host address and port: ${where}`),
    });
  });
  return conflicts;
}
