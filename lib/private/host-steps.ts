/**
 * How one host step (a `null_resource` running scripts/volume/modulus-volume.sh, modulus-process-limit.sh or
 * modulus-router.sh) reaches its Docker host: `bash <asset>/<script> <command>` as a local-exec on the
 * Terraform machine (a `unix://` engine), or, for another host, `bash <asset>/ssh-step.sh <script> <command>`
 * as a local-exec that carries the scripts, any file the step uploads (e.g. an app's source archive) and the
 * values (an env file, each value base64-encoded) to the host over one SSH connection, where
 * scripts/volume/remote-step.sh reads the env file, deletes it at once, and runs the script as root (through
 * `sudo -n` when the SSH user is not root), removing its staging folder afterwards. Values travel in the
 * local-exec's environment and the SSH stream only: a command line holds paths and the command name.
 *
 * Pure functions: they return config pieces for a `NullResource` (and a `DataExternal` probe); the constructs
 * decide the triggers, dependencies and ids. Not exported from lib/index.ts. `access` undefined gives the
 * local steps. Example (AppVolume-like; `ssh` may be undefined):
 *
 *   const create = stepProvisioners(this, ssh, { script: 'modulus-volume.sh', command: 'create',
 *     environment: { ...identityEnv, MODULUS_SIZE_MIB: '2048' }, resourceId: !!ssh });
 *   const destroy = destroyProvisioners(this, ssh, { script: 'modulus-volume.sh', command: 'destroy',
 *     environment: { MODULUS_APP: '${self.triggers.modulus_volume}', ... }, resourceId: !!ssh });
 *   new NullResource(this, 'Volume', { triggers: { ...identity, ...destroy.triggers },
 *     provisioners: [...create.provisioners, ...destroy.provisioners], lifecycle: destroy.lifecycle });
 *   new NullResource(scope, 'Input', { triggers: { volume: volumeId, source: asset.assetHash },
 *     ...stepProvisioners(this, ssh, { script: 'modulus-volume.sh', command: 'prepare-build',
 *       environment: identityEnv, uploads: [{ source: asset.path, env: 'MODULUS_SOURCE' }] }) });
 *   const probe = probeProgram(this, ssh, { app, backend, root, lvm_volume_group, lvm_thin_pool });
 *   new DataExternal(this, 'State', { program: probe.program, query: probe.query, dependsOn: [volume] });
 *
 * A remote step connects as the host's `ssh://` engine does when the engine logs in as the provisioning user
 * (its options, no key in the step's config, so Terraform prints the step's output unless another value is
 * sensitive), else with the provisioning key (a sensitive value: Terraform then hides the step's output).
 * Destroy-time steps always use the key, read back from the resource's triggers. Measured with Terraform 1.5.7
 * (__tests__/e2e/remote-steps.test.ts): the probe's result is not sensitive although its query is (no
 * nonsensitive() needed: it would fail); Terraform runs no destroy-time provisioner for the deposed object of a
 * create_before_destroy replacement.
 */
import { Fn, LocalExecProvisioner, Precondition, Token } from 'cdktf';
import { IConstruct } from 'constructs';
import { volumeScriptPath } from './host-files';
import { hostPattern } from './host-rules';
import { HostKey, hostKeyLines, preferredHostKey } from './host-keys';
import { invalid } from './validation';

/** SSH access to a Docker host other than the Terraform machine. */
export interface SshAccess {
  /** The host's name in messages (e.g. the DockerHost's id): never a secret. */
  readonly hostName: string;
  /** SSH user: root, or a user that may run `sudo -n bash <staging>/scripts/remote-step.sh ...`. */
  readonly user: string;
  /** Address (name or IP) the Terraform machine connects to. */
  readonly address: string;
  /** @default 22 */
  readonly port?: number;
  /** The private key (PEM/OpenSSH text): a sensitive token (variable, secret manager) or a literal. */
  readonly privateKey: string;
  /** The host's public keys (every type its sshd offers): pinned, never trusted on first use. */
  readonly hostKeys: readonly HostKey[];
  /** How long a step's SSH client waits for the host to answer. @default 30 */
  readonly connectTimeoutSeconds?: number;
  /**
   * The engine's own `ssh://` connection, when it logs in as `user` on this host: the mount probe goes that way
   * (the ssh options the engine uses, e.g. its key file and known hosts file), so its query, which Terraform
   * keeps in the state, holds no key. @default none: the probe connects with `privateKey` and `hostKey`
   */
  readonly engine?: EngineSsh;
}

/** Where and how the Docker CLI's SSH transport reaches an `ssh://` engine. */
export interface EngineSsh {
  readonly address: string;
  /** @default 22 */
  readonly port?: number;
  /** The options the engine's connection passes to ssh (the provider's `ssh_opts`). */
  readonly options: readonly string[];
}

/** The host scripts a step can run. */
export type HostScript = 'modulus-volume.sh' | 'modulus-process-limit.sh' | 'modulus-router.sh';

/** A file of the Terraform machine a remote step uploads; its host path reaches the script in `env`. */
export interface StepUpload {
  /** Local file (e.g. a TerraformAsset's path). */
  readonly source: string;
  /** Environment variable that receives the file's path on the host, e.g. 'MODULUS_SOURCE'. */
  readonly env: string;
}

export interface StepSpec {
  readonly script: HostScript;
  /** The script's command, e.g. 'create', 'write-config', 'apply'. */
  readonly command: string;
  /**
   * The script's environment, as for local-exec: values in Terraform template positions (literals escaped with
   * escapeTemplate, or tokens, or `${self...}` references). A sensitive value hides the step's output.
   */
  readonly environment: Record<string, string>;
  /** Files to upload (remote) or pass as they are (local: the env gets the local path). */
  readonly uploads?: StepUpload[];
  /**
   * Pass the resource's own id as MODULUS_RESOURCE_ID (modulus-volume.sh create records it; destroy leaves a
   * volume a newer resource took over). Remote steps always pass it; locally it is off by default. For
   * destroyProvisioners of a remote host it also asks for create_before_destroy (the
   * Volume); leave it off for steps whose destroy must run before the new create (e.g. ProcessLimit's remove).
   * @default false
   */
  readonly resourceId?: boolean;
}

export interface StepPieces {
  /** The resource's `provisioners`: one local-exec. */
  readonly provisioners: LocalExecProvisioner[];
}

export interface DestroyPieces extends StepPieces {
  /**
   * Triggers the resource must add (remote only: the connection, read back through `self` at destroy time;
   * the private key as a sensitive value). Any change of these replaces the resource.
   */
  readonly triggers: Record<string, string>;
  /**
   * Remote steps with `resourceId` (the Volume) only: `{ createBeforeDestroy: true }`, so that a replacement caused by the connection triggers
   * (e.g. a rotated key) creates the new resource (which records its id on the host) before the old one's
   * destroy step runs, which then finds itself superseded and keeps the volume.
   */
  readonly lifecycle?: { createBeforeDestroy: boolean };
}

/** The trigger names destroyProvisioners adds for a remote host. */
export const SSH_TRIGGERS = {
  hostName: 'ssh_host_name',
  user: 'ssh_user',
  address: 'ssh_address',
  port: 'ssh_port',
  hostKey: 'ssh_host_key',
  privateKey: 'ssh_private_key',
} as const;

/**
 * The provisioner of a create-time step: `bash <asset>/<script> <command>` with the values in the local-exec
 * environment (access undefined), or ssh-step.sh with the connection added to them.
 */
export function stepProvisioners(scope: IConstruct, access: SshAccess | undefined, spec: StepSpec): StepPieces {
  validateEnvironment(scope, spec, access !== undefined);
  const scriptPath = volumeScriptPath(scope, spec.script);
  if (!access) {
    const environment: Record<string, string> = { ...spec.environment };
    for (const upload of spec.uploads ?? []) environment[upload.env] = upload.source;
    if (spec.resourceId) environment.MODULUS_RESOURCE_ID = '${self.id}';
    return { provisioners: [{ type: 'local-exec', command: `bash ${scriptPath} ${spec.command}`, environment }] };
  }
  return { provisioners: [remoteStep(scope, spec, createConnection(access), undefined)] };
}

/**
 * The destroy-time step (e.g. the Volume's `destroy`): destroy-time provisioners may read only `self`, so the
 * environment must use `${self.triggers.NAME}` references or literals, and for a remote host the connection
 * comes back from triggers this function returns (add them to the resource's triggers), the key as a
 * sensitive value. Remote: the resource also needs the returned lifecycle (see DestroyPieces.lifecycle), and
 * its create step should set `resourceId: true`.
 */
export function destroyProvisioners(scope: IConstruct, access: SshAccess | undefined, spec: StepSpec): DestroyPieces {
  if (spec.uploads && spec.uploads.length > 0) throw invalid(scope, 'uploads', spec.uploads.map((upload) => upload.env), 'leave them out: a destroy step cannot upload files');
  validateEnvironment(scope, spec, access !== undefined);
  if (!access) {
    const environment: Record<string, string> = { ...spec.environment };
    if (spec.resourceId) environment.MODULUS_RESOURCE_ID = '${self.id}';
    return {
      provisioners: [{ type: 'local-exec', when: 'destroy', command: `bash ${volumeScriptPath(scope, spec.script)} ${spec.command}`, environment }],
      triggers: {},
    };
  }
  const self = (name: string) => `\${self.triggers.${name}}`;
  const triggers: Record<string, string> = {
    [SSH_TRIGGERS.hostName]: access.hostName,
    [SSH_TRIGGERS.user]: access.user,
    [SSH_TRIGGERS.address]: access.address,
    [SSH_TRIGGERS.port]: String(access.port ?? 22),
    [SSH_TRIGGERS.hostKey]: preferredHostKey(access.hostKeys),
    [SSH_TRIGGERS.privateKey]: Fn.sensitive(access.privateKey),
  };
  const connection: Record<string, string> = {
    STEP_SSH_HOST_NAME: self(SSH_TRIGGERS.hostName),
    STEP_SSH_USER: self(SSH_TRIGGERS.user),
    STEP_SSH_ADDRESS: self(SSH_TRIGGERS.address),
    STEP_SSH_PORT: self(SSH_TRIGGERS.port),
    STEP_SSH_CONNECT_TIMEOUT: String(connectTimeout(access)),
    STEP_SSH_HOST_KEYS: self(SSH_TRIGGERS.hostKey),
    STEP_SSH_TRANSPORT: 'key',
    STEP_SSH_PRIVATE_KEY: self(SSH_TRIGGERS.privateKey),
  };
  return {
    provisioners: [remoteStep(scope, spec, connection, 'destroy')],
    triggers,
    ...(spec.resourceId ? { lifecycle: { createBeforeDestroy: true } } : {}),
  };
}

/**
 * Query and program of the volume's `data "external"` probe (or, with `script` modulus-router.sh, the router
 * container's): local or over SSH, through the engine's own SSH connection when there is one (no key in the
 * query), else with the provisioning key.
 */
export function probeProgram(
  scope: IConstruct,
  access: SshAccess | undefined,
  query: Record<string, string>,
  script: 'modulus-volume.sh' | 'modulus-router.sh' = 'modulus-volume.sh',
): { program: string[]; query: Record<string, string> } {
  const local = volumeScriptPath(scope, script);
  // Terraform's state is read where Terraform runs: here by the probe itself, for a remote host by remote-probe.sh.
  if (!access) return { program: ['bash', local, 'probe'], query: { ...query, state_check: 'terraform' } };
  const program = ['bash', `${scriptsFolder(scope)}/remote-probe.sh`];
  const host = {
    ...query,
    ...(script === 'modulus-router.sh' ? { probe: 'router' } : {}),
    ssh_host_name: access.hostName,
    ssh_user: access.user,
    // Where Terraform's provisioners connect: the probe checks that the key they will be shown is pinned.
    ssh_address: access.address,
    ssh_port: String(access.port ?? 22),
    // One `TYPE BASE64` per line (JSON escapes the line breaks; remote-probe.sh decodes them).
    ssh_host_keys: hostKeyLines(access.hostKeys),
  };
  if (access.engine) {
    return {
      program,
      query: {
        ...host,
        ssh_transport: 'engine',
        ssh_engine_address: access.engine.address,
        ssh_engine_port: String(access.engine.port ?? 22),
        // One option per line (DockerHost refuses line breaks in them).
        ssh_options: access.engine.options.join('\n'),
      },
    };
  }
  return {
    program,
    query: {
      ...host,
      ssh_transport: 'key',
      // As it is (no encoded copy in the state that a search for the key would miss).
      ssh_private_key: Fn.sensitive(access.privateKey),
    },
  };
}

/**
 * Query and program of a remote host's `data "external"` host key check (scripts/volume/host-keys.sh): once per
 * host and plan, whatever else changes, that the host answers and offers a pinned key. No secret in it.
 */
export function hostKeyCheck(scope: IConstruct, access: SshAccess): { program: string[]; query: Record<string, string> } {
  return {
    program: ['bash', `${scriptsFolder(scope)}/host-keys.sh`],
    query: { host_name: access.hostName, user: access.user, address: access.address, port: String(access.port ?? 22), host_keys: hostKeyLines(access.hostKeys) },
  };
}

/**
 * Plan-time checks of the private key (a sensitive value: the messages never show it), on the resource whose
 * steps first use it: OpenSSH or PEM text, without a passphrase (Terraform's provisioners cannot ask for one).
 * An OpenSSH key's body starts with the encoding of `openssh-key-v1`, cipher `none`, when it has no passphrase.
 */
export function privateKeyPreconditions(access: SshAccess): Precondition[] {
  const key = `trimspace(replace(${Token.asString(access.privateKey)}, "\\r", ""))`;
  const where = `Docker host '${access.hostName}' (provisioning.privateKey)`;
  // `PRIVATE[ ]KEY`: the synthesized JSON keeps no "PRIVATE KEY" text, so a search for it still finds leaks only.
  const armour = (line: 'BEGIN' | 'END') => `-----${line} (OPENSSH |RSA |EC |DSA )?PRIVATE[ ]KEY-----`;
  return [
    {
      condition: `\${can(regex("^${armour('BEGIN')}\\n[A-Za-z0-9+/=:, \\n-]+\\n${armour('END')}$", ${key}))}`,
      errorMessage: `${where}: the key is not an OpenSSH or PEM private key: give the whole text of the key file, its BEGIN and END lines included.`,
    },
    {
      condition:
        `\${length(regexall("ENCRYPTED", ${key})) == 0 && ` +
        `(length(regexall("^-----BEGIN OPENSSH", ${key})) == 0 || length(regexall("^-----BEGIN OPENSSH PRIVATE[ ]KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU", ${key})) > 0)}`,
      errorMessage: `${where}: the key is protected by a passphrase, which a deploy cannot ask for: give a key without one (ssh-keygen -p -N '' -f <file> removes it).`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------

/**
 * The connection variables of a create-time step: the engine's own SSH transport when there is one (no key in
 * the step's config), else the provisioning key.
 */
function createConnection(access: SshAccess): Record<string, string> {
  const common = {
    STEP_SSH_HOST_NAME: access.hostName,
    STEP_SSH_USER: access.user,
    STEP_SSH_CONNECT_TIMEOUT: String(connectTimeout(access)),
    STEP_SSH_HOST_KEYS: hostKeyLines(access.hostKeys),
  };
  if (access.engine) {
    return {
      ...common,
      STEP_SSH_ADDRESS: access.engine.address,
      STEP_SSH_PORT: String(access.engine.port ?? 22),
      STEP_SSH_TRANSPORT: 'engine',
      // One option per line (DockerHost refuses line breaks in them).
      STEP_SSH_OPTIONS: access.engine.options.join('\n'),
    };
  }
  return {
    ...common,
    STEP_SSH_ADDRESS: access.address,
    STEP_SSH_PORT: String(access.port ?? 22),
    STEP_SSH_TRANSPORT: 'key',
    STEP_SSH_PRIVATE_KEY: Fn.sensitive(access.privateKey),
  };
}

function connectTimeout(access: SshAccess): number {
  return access.connectTimeoutSeconds ?? 30;
}

/** The asset folder holding the host scripts (relative, content-addressed). */
function scriptsFolder(scope: IConstruct): string {
  return volumeScriptPath(scope, 'modulus-volume.sh').replace(/\/modulus-volume\.sh$/, '');
}

function validateEnvironment(scope: IConstruct, spec: StepSpec, remote: boolean): void {
  if (!/^[a-z][a-z-]*$/.test(spec.command)) throw invalid(scope, 'command', spec.command, 'give a script command: lowercase letters and -');
  const names = [...Object.keys(spec.environment), ...(spec.uploads ?? []).map((upload) => upload.env)];
  for (const name of names) {
    if (!hostPattern('ENV_NAME_PATTERN').test(name)) throw invalid(scope, 'environment name', name, "use letters, digits and '_', not starting with a digit");
    // remote-step.sh (root on the host) exports only the scripts' own variables.
    if (remote && !/^MODULUS_[A-Za-z0-9_]+$/.test(name)) throw invalid(scope, 'environment name', name, 'give a MODULUS_* variable: remote-step.sh exports only those');
  }
  if (new Set(names).size !== names.length) throw invalid(scope, 'environment name', names, 'give each variable once: an upload names a variable that is also in the environment');
}

/**
 * The local-exec of a remote step: ssh-step.sh with the step's variables (uploads as their local paths) and the
 * connection in its environment; STEP_VARIABLES and STEP_UPLOADS name what reaches the host.
 */
function remoteStep(scope: IConstruct, spec: StepSpec, connection: Record<string, string>, when: 'destroy' | undefined): LocalExecProvisioner {
  const environment: Record<string, string> = { ...spec.environment };
  const uploads = (spec.uploads ?? []).map((upload) => upload.env);
  for (const upload of spec.uploads ?? []) environment[upload.env] = upload.source;
  environment.MODULUS_RESOURCE_ID = '${self.id}';
  return {
    type: 'local-exec',
    ...(when ? { when } : {}),
    command: `bash ${scriptsFolder(scope)}/ssh-step.sh ${spec.script} ${spec.command}`,
    environment: {
      ...environment,
      STEP_VARIABLES: Object.keys(environment).sort().join(' '),
      STEP_UPLOADS: uploads.join(' '),
      ...connection,
    },
  };
}
