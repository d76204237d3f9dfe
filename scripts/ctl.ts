#!/usr/bin/env node
/**
 * Controls a deployed app the way the platform did: `docker exec` into its run container and drive
 * supervisorctl through the run image's `modulus-app` (the socket is mop's, and `docker exec` runs as the
 * container's user, mop). For an app behind a router, status says which slot serves and its release.
 *
 *   modulus-ctl <app> status|start|stop|restart|tail      (the package's binary, in a cdktf project's folder)
 *   npm run ctl -- <app> status|start|stop|restart|tail   (in this repository)
 *
 * The engine is the one the app's run container (`modulus-app-<app>`) is deployed to: ctl reads the synthesized
 * stack (MODULUS_CTL_STACK; unset, the stack of cdktf.out/manifest.json that has the app's run container, else
 * cdktf.out/stacks/apps/cdk.tf.json), finds the `docker_container` of that name, and resolves its `provider`
 * ("docker.<alias>", or none for the default) to that docker provider's `host`: unix:// and tcp:// become `docker -H <host>` (tcp with `cert_path` or `*_material` adds --tlsverify
 * and the certificates; material is written to a private 0700 folder, never put on the command line), ssh://
 * becomes `docker -H ssh://...` with the provider's `ssh_opts` added by a private `ssh` wrapper first on PATH
 * (the docker CLI's ssh connection helper runs `ssh` from PATH and has no option for them). Without the stack
 * file, or when the app has no run container in it (said on stderr), it uses the local engine as before.
 *
 * An app with replicas has a run container per host: name the instance as `<app>@<host>` (the DockerHost's name,
 * its provider's alias).
 *
 * tail follows /mnt/log/app.log (by name, so it survives supervisor's log rotation); Ctrl-C ends it.
 * The exit status is the command's (supervisorctl status exits 3 when the app is not running).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runContainerName } from '../lib/run-container';

export const CTL_ACTIONS = ['status', 'start', 'stop', 'restart', 'tail'] as const;
export type CtlAction = (typeof CTL_ACTIONS)[number];

/** The synthesized apps stack ctl reads unless MODULUS_CTL_STACK names another file or another stack has the app. */
export const DEFAULT_CTL_STACK = 'cdktf.out/stacks/apps/cdk.tf.json';

/** The cdktf manifest that lists the synthesized stacks. */
export const CTL_MANIFEST = 'cdktf.out/manifest.json';

/** The host schemes ctl can reach (the kreuzwerker provider's, but npipe://). */
export const CTL_HOST_SCHEMES = ['unix://', 'tcp://', 'ssh://'] as const;

const USAGE = `usage: modulus-ctl <app>[@<host>] ${CTL_ACTIONS.join('|')}`;

/** A file main() writes under the private folder before running the command (0600, or 0700 for the wrapper). */
export interface CtlFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

/** Values from the environment ctlInvocation needs; passed in so the function stays pure. */
export interface CtlOptions {
  /** A private (0700) folder main() creates and removes: the ssh wrapper and TLS material go there. */
  readonly privateDir?: string;
  /** The caller's PATH; the ssh wrapper's folder is put first. */
  readonly path?: string;
  /** The real ssh the wrapper runs (an absolute path). */
  readonly ssh?: string;
  /**
   * The stack's folder, where Terraform runs the provider: the ssh wrapper runs ssh there, so relative paths in
   * `ssh_opts` (DockerHost's pinned known hosts file, an asset) mean what they mean to the provider.
   */
  readonly stackDir?: string;
}

export interface CtlInvocation {
  /** The command line, starting with `docker`. */
  readonly argv: string[];
  /** Environment set over the caller's (PATH for the ssh wrapper; DOCKER_TLS* cleared when the stack names the host). */
  readonly env: Record<string, string>;
  /** Files to write under privateDir first (the ssh wrapper, TLS material). */
  readonly files: CtlFile[];
  /** Which engine: "local engine", or "docker.<alias> (<host>)" / "docker (<host>)". */
  readonly engine: string;
  /** Set when the stack exists but has no run container for the app: the caller says so on stderr. */
  readonly notice?: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isExpression = (value: string) => value.includes('${');

/** Single-quotes a value for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function validateAction(action: string): CtlAction {
  if (!(CTL_ACTIONS as readonly string[]).includes(action)) {
    throw new Error(`unknown action '${action}': ${USAGE}`);
  }
  return action as CtlAction;
}

function execArgs(container: string, action: CtlAction): string[] {
  if (action === 'tail') return ['exec', container, 'tail', '-n', '100', '-F', '/mnt/log/app.log'];
  return ['exec', container, 'modulus-app', action];
}

/** Every `docker_container` resource of the stack whose `name` is the run container's, with its id. */
function runContainers(stack: Json, container: string): Array<{ id: string; provider: unknown }> {
  const resources = isObject(stack.resource) ? stack.resource : {};
  const containers = isObject(resources.docker_container) ? resources.docker_container : {};
  return Object.entries(containers)
    .filter(([, config]) => isObject(config) && config.name === container)
    .map(([id, config]) => ({ id, provider: (config as Json).provider }));
}

function dockerProviders(stack: Json): Json[] {
  const providers = isObject(stack.provider) ? stack.provider.docker : undefined;
  if (providers === undefined) return [];
  return (Array.isArray(providers) ? providers : [providers]).filter(isObject);
}

const providerName = (config: Json) => (typeof config.alias === 'string' ? `docker.${config.alias}` : 'docker');

/**
 * The command that runs `action` for `app` on the engine its run container is deployed to, from the synthesized
 * apps stack (its parsed JSON; undefined when there is no stack file: the local engine). Pure: the files it
 * needs are returned, not written. Throws, naming the app, on an unknown action or app name, and on a stack
 * ctl cannot follow (unknown provider alias, expression or unsupported scheme in `host`, bad `ssh_opts`).
 */
export function ctlInvocation(target: string, action: string, stack: unknown, options: CtlOptions = {}): CtlInvocation {
  const { app, host: instanceHost } = ctlTarget(target);
  const container = runContainerName(app);
  const checked = validateAction(action);
  const local: CtlInvocation = { argv: ['docker', ...execArgs(container, checked)], env: {}, files: [], engine: 'local engine' };
  if (stack === undefined) return local;
  if (!isObject(stack)) throw new Error(`app '${app}': the apps stack is not a JSON object`);

  const all = runContainers(stack, container);
  const found = instanceHost === undefined ? all : all.filter((entry) => entry.provider === `docker.${instanceHost}`);
  if (instanceHost !== undefined && found.length === 0) {
    const hosts = all.map((entry) => (typeof entry.provider === 'string' ? entry.provider.replace(/^docker\./, '') : 'the default engine'));
    throw new Error(`app '${app}' has no run container on host '${instanceHost}' in the apps stack${hosts.length ? `: it runs on ${hosts.join(', ')}` : ''}`);
  }
  if (found.length === 0) {
    return { ...local, notice: `app '${app}' has no run container (docker_container named ${container}) in the apps stack: using the local engine` };
  }
  const providers = dockerProviders(stack);
  const configured = providers.map(providerName);
  const allowed = `the stack's docker providers are ${configured.length ? configured.join(', ') : 'none (only the implicit default, docker)'}`;
  if (found.length > 1 && found.every((entry) => typeof entry.provider === 'string' && entry.provider.startsWith('docker.'))) {
    const hosts = found.map((entry) => (entry.provider as string).replace(/^docker\./, ''));
    throw new Error(`app '${app}' runs as ${found.length} instances (on hosts ${hosts.join(', ')}): name one, e.g. ${app}@${hosts[0]}`);
  }
  if (found.length > 1) {
    const where = found.map((entry) => `docker_container.${entry.id} (${typeof entry.provider === 'string' ? entry.provider : 'docker'})`);
    throw new Error(`app '${app}': ${found.length} run containers are named ${container} in the apps stack: ${where.join(', ')}; ctl needs exactly one`);
  }
  const [{ id, provider: reference }] = found;
  const resource = `docker_container.${id}`;
  const ref = reference === undefined ? 'docker' : reference;
  const match = typeof ref === 'string' ? /^docker(?:\.([A-Za-z][A-Za-z0-9_-]*))?$/.exec(ref) : null;
  if (!match) {
    throw new Error(`app '${app}': ${resource} names provider ${JSON.stringify(ref)}: ctl follows "docker" or "docker.<alias>"; ${allowed}`);
  }
  const alias = match[1];
  const name = alias === undefined ? 'docker' : `docker.${alias}`;
  const config = providers.find((candidate) => (alias === undefined ? candidate.alias === undefined : candidate.alias === alias));
  if (!config) {
    // Terraform gives a resource without a provider block of its own an empty default config: the local engine.
    if (alias === undefined) return local;
    throw new Error(`app '${app}': ${resource} uses provider docker.${alias}, but the apps stack has no docker provider with alias '${alias}'; ${allowed}`);
  }

  const host = config.host;
  if (host === undefined) return { ...local, engine: `${name} (no host: the local engine)` };
  if (typeof host !== 'string' || isExpression(host)) {
    throw new Error(`app '${app}': provider ${name} has host ${JSON.stringify(host)}: ctl needs a literal ${CTL_HOST_SCHEMES.join(', ')} address in the synthesized stack`);
  }
  const scheme = CTL_HOST_SCHEMES.find((prefix) => host.startsWith(prefix));
  if (!scheme) {
    throw new Error(`app '${app}': provider ${name} has host '${host}': ctl supports ${CTL_HOST_SCHEMES.join(', ')}`);
  }

  const privateDir = options.privateDir ?? path.join(os.tmpdir(), 'modulus-ctl');
  const argv = ['docker', '-H', host];
  // The stack alone decides TLS for the host it names: no DOCKER_TLS_VERIFY from the caller's shell.
  const env: Record<string, string> = { DOCKER_TLS_VERIFY: '', DOCKER_TLS: '' };
  const files: CtlFile[] = [];

  if (scheme === 'ssh://') {
    const sshOpts = config.ssh_opts;
    if (sshOpts !== undefined && (!Array.isArray(sshOpts) || !sshOpts.every((opt) => typeof opt === 'string' && !isExpression(opt)))) {
      throw new Error(`app '${app}': provider ${name} has ssh_opts ${JSON.stringify(sshOpts)}: ctl needs a list of literal strings`);
    }
    if (Array.isArray(sshOpts) && sshOpts.length > 0) {
      const binDir = path.join(privateDir, 'bin');
      const ssh = options.ssh ?? '/usr/bin/ssh';
      const cd = options.stackDir ? `cd ${shellQuote(path.resolve(options.stackDir))} || exit 255\n` : '';
      files.push({ path: path.join(binDir, 'ssh'), content: `#!/bin/sh\n${cd}exec ${[ssh, ...(sshOpts as string[])].map(shellQuote).join(' ')} "$@"\n`, mode: 0o700 });
      env.PATH = `${binDir}${path.delimiter}${options.path ?? '/usr/bin:/bin'}`;
    }
  }

  if (scheme === 'tcp://') {
    const certPath = config.cert_path;
    const material = { ca: config.ca_material, cert: config.cert_material, key: config.key_material };
    for (const [key, value] of Object.entries({ cert_path: certPath, ca_material: material.ca, cert_material: material.cert, key_material: material.key })) {
      if (value !== undefined && (typeof value !== 'string' || isExpression(value))) {
        throw new Error(`app '${app}': provider ${name} has a ${key} that is not a literal string: ctl needs the value in the synthesized stack`);
      }
    }
    if (typeof certPath === 'string' && certPath) {
      argv.push('--tlsverify', '--tlscacert', path.join(certPath, 'ca.pem'), '--tlscert', path.join(certPath, 'cert.pem'), '--tlskey', path.join(certPath, 'key.pem'));
    } else if (material.ca || material.cert || material.key) {
      argv.push('--tlsverify');
      for (const [kind, value] of Object.entries(material)) {
        if (typeof value !== 'string' || !value) continue;
        const file = path.join(privateDir, 'tls', `${kind}.pem`);
        files.push({ path: file, content: value, mode: 0o600 });
        argv.push(kind === 'ca' ? '--tlscacert' : kind === 'cert' ? '--tlscert' : '--tlskey', file);
      }
    }
  }

  return { argv: [...argv, ...execArgs(container, checked)], env, files, engine: `${name} (${host})` };
}

/** `<app>` or `<app>@<host>` (one instance of an app with replicas). */
function ctlTarget(target: string): { app: string; host?: string } {
  const at = target.lastIndexOf('@');
  if (at < 0) return { app: target };
  const host = target.slice(at + 1);
  if (!/^[a-z][a-z0-9-]{0,29}$/.test(host)) throw new Error(`invalid host '${host}' in '${target}': give <app>@<host name>, e.g. shop@b`);
  return { app: target.slice(0, at), host };
}

/** The local engine's command line for one action on one app; throws on an unknown app name or action. */
export function ctlCommand(app: string, action: string): string[] {
  return ctlInvocation(app, action, undefined).argv;
}

/**
 * The synthesized stack file ctl reads for `app` in `project` (the folder of cdktf.out; ctl: the working folder):
 * MODULUS_CTL_STACK when set; else the one stack listed in cdktf.out/manifest.json whose configuration has the
 * app's run container (a project's stacks need not be named `apps`); else DEFAULT_CTL_STACK. Throws when
 * several stacks have it.
 */
export function ctlStackFile(target: string, environment: NodeJS.ProcessEnv, project = '.'): string {
  if (environment.MODULUS_CTL_STACK) return environment.MODULUS_CTL_STACK;
  const { app } = ctlTarget(target);
  const container = runContainerName(app);
  const manifestFile = path.join(project, CTL_MANIFEST);
  const manifest = readCtlStack(manifestFile);
  const stacks = isObject(manifest) && isObject(manifest.stacks) ? Object.values(manifest.stacks) : [];
  const files = stacks
    .map((stack) => (isObject(stack) && typeof stack.synthesizedStackPath === 'string' ? path.join(path.dirname(manifestFile), stack.synthesizedStackPath) : undefined))
    .filter((file): file is string => file !== undefined)
    .filter((file) => {
      const stack = readCtlStack(file);
      return isObject(stack) && runContainers(stack, container).length > 0;
    });
  if (files.length > 1) {
    throw new Error(`app '${app}': ${files.length} stacks in ${CTL_MANIFEST} have a run container named ${container} (${[...files].sort().join(', ')}): set MODULUS_CTL_STACK to one`);
  }
  return files[0] ?? path.join(project, DEFAULT_CTL_STACK);
}

/** The apps stack's parsed JSON, or undefined when the file does not exist. */
export function readCtlStack(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the apps stack ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`cannot parse the apps stack ${file}: ${(error as Error).message}`);
  }
}

function findOnPath(command: string, searchPath: string): string {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return command;
}

export function main(argv: string[], environment: NodeJS.ProcessEnv = process.env): number {
  if (argv.length !== 2 || argv.includes('-h') || argv.includes('--help')) {
    process.stderr.write(`${USAGE}\n`);
    return argv.includes('-h') || argv.includes('--help') ? 0 : 2;
  }
  const searchPath = environment.PATH ?? '/usr/bin:/bin';
  const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-ctl-'));
  const ignore = () => undefined;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  try {
    fs.chmodSync(privateDir, 0o700);
    let invocation: CtlInvocation;
    let stackFile: string;
    try {
      stackFile = ctlStackFile(argv[0], environment);
      invocation = ctlInvocation(argv[0], argv[1], readCtlStack(stackFile), { privateDir, path: searchPath, ssh: findOnPath('ssh', searchPath), stackDir: path.dirname(stackFile) });
    } catch (error) {
      process.stderr.write(`ctl: ${(error as Error).message}\n`);
      return 2;
    }
    if (invocation.notice) process.stderr.write(`ctl: ${invocation.notice} (${stackFile})\n`);
    for (const file of invocation.files) {
      fs.mkdirSync(path.dirname(file.path), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file.path, file.content, { mode: file.mode });
    }
    // The command gets Ctrl-C (tail); ctl outlives it to remove the private folder.
    for (const signal of signals) process.on(signal, ignore);
    const [command, ...args] = invocation.argv;
    const result = spawnSync(command, args, { stdio: 'inherit', env: { ...environment, ...invocation.env } });
    if (result.error) {
      process.stderr.write(`ctl: ${result.error.message}\n`);
      return 1;
    }
    if (result.signal) return 128 + (result.signal === 'SIGINT' ? 2 : 15);
    return result.status ?? 1;
  } finally {
    for (const signal of signals) process.off(signal, ignore);
    fs.rmSync(privateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
