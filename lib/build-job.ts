import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { Fn, ITerraformDependable, Lazy } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { Construct } from 'constructs';
import { AppVolume } from './app-volume';
import { hashDirectory } from './content-hash';
import { NetworkMode } from './network-mode';
import { validateContainerProps } from './private/container-props';
import { MOP_USER } from './private/mop-user';
import { nullProvider } from './private/providers';
import { validateEnvNames } from './private/names';
import { dockerEnv, escapeTemplate, secretStepValues } from './private/terraform-values';
import { sourceLinkProblems, writeSourceArchive } from './private/source-archive';
import { stackSourceArchive } from './private/source-assets';
import { HIDDEN, invalid, requireLiteral, validateInteger } from './private/validation';
import { READINESS_VARIABLES, ReadinessEnvironment, runContainerName } from './run-container';
import { Language } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

/** How a build runs, apart from what it builds and where (ModulusAppProps.build). */
export interface BuildJobOptions {
  /**
   * The build is stopped after this many seconds and the deploy fails: passed as BUILD_TIMEOUT, which the
   * Modulus build images enforce; any image is also stopped 30 s later from outside (coreutils timeout).
   * @default 900 (15 minutes, the original platform's limit)
   */
  readonly timeoutSeconds?: number;

  /**
   * Memory limit in MiB; swap is limited to the same value (no swap).
   * @default 1024
   */
  readonly memoryMiB?: number;

  /**
   * Extra build environment, e.g. RUN_TESTS or NPM_USER. INPUT, OUTPUT, INPUT_DIR, OUTPUT_DIR and
   * BUILD_TIMEOUT are set by the job and cannot be given here.
   * @default {}
   */
  readonly environment?: Record<string, string>;

  /**
   * Secret build environment, e.g. NPM_TOKEN for a private registry. The values reach the build container through
   * a file in its volume that the container reads and deletes before `build` starts: never on a command line, in
   * plan output, Terraform's state (only a sensitive hash) or `docker inspect`. Prefer tokens of sensitive
   * variables: a literal value is part of the synthesized JSON.
   * @default {}
   */
  readonly secretEnvironment?: Record<string, string>;

  /**
   * How many of the build's last log lines the failure message shows, and all the build's output Terraform's state
   * keeps (the whole log is in the volume, /mnt/log/build.log, and in the container's rotated json-file log).
   * @default 30
   */
  readonly failureLogLines?: number;

  /**
   * The build command and its arguments, run instead of the image's `build` (with the same environment, timeout,
   * log and secrets), e.g. `['build', '--verbose']` or `['bash', '-c', 'make dist && build']`. Each element is one
   * argument: no shell unless you run one.
   * @default ['build']
   */
  readonly command?: string[];
}

export interface BuildJobProps extends BuildJobOptions {
  /** The app's volume, mounted at /mnt as the run container sees it. */
  readonly volume: AppVolume;

  /** The build image: id or reference of a build-<language> image, e.g. a ModulusImage's `imageId`. */
  readonly image: string;

  /** The app's language (labels the container; a language name, see `Language`). */
  readonly language: Language;

  /**
   * Local folder holding the app's source. It is packaged with the stack as a tar archive (content-addressed, so
   * the synthesized JSON holds no absolute path; links inside the folder stay links), copied into the volume's
   * input/ before the build, and a change of its content (or of the image) runs the build again. A link that
   * leads out of the folder fails synth. Relative paths are relative to cdktf.json's folder.
   */
  readonly source: string;

  /**
   * Network of the build (builds usually need the network to fetch dependencies).
   * @default NetworkMode.BRIDGE
   */
  readonly networkMode?: NetworkMode;

  /**
   * @internal ModulusApp: the publish step's environment (for health-gated releases behind a router, or how an app
   * restarted in place is asked whether it answers) and what it comes after (the router serving).
   */
  readonly _release?: { readonly environment: Record<string, string>; readonly dependsOn: ITerraformDependable[] };
}

/**
 * Prefix of the names of an app's build containers, `modulus-build-<app>`: each build container is named
 * `modulus-build-<app>-<UTC time it was created, YYYYMMDDhhmmss>`, so a container left behind by an interrupted
 * deploy never blocks the next one (see BuildJob).
 */
export function buildContainerName(app: string): string {
  return `modulus-build-${app}`;
}

const RESERVED_BUILD_ENV = ['INPUT', 'OUTPUT', 'INPUT_DIR', 'OUTPUT_DIR', 'BUILD_TIMEOUT'];

/**
 * The build container's command: reads and deletes the build secrets the volume step wrote, runs `build` under
 * coreutils' timeout with its whole output in /mnt/log/build.log, and prints only the last lines (all that
 * Terraform keeps in its state). Arguments: the outer timeout in seconds, the number of lines; with a `command`
 * of the user's, `build` becomes that command, given as the further arguments (`COMMAND_WRAPPER`). Without one the
 * container's command stays what it was before `command` existed, so an upgrade replaces no build container.
 */
const BUILD_WRAPPER = [
  'set -uo pipefail',
  // One build of the app at a time: a build container left running by an interrupted deploy finishes first (it is
  // bounded by its own timeout), and what it wrote to output/ is cleared before this build starts.
  'exec 9>>/mnt/.build-lock',
  'if ! flock -w "$1" 9; then',
  '  echo "modulus-build: another build of this app (left running by an interrupted deploy?) still holds /mnt/.build-lock after $1 s" >&2',
  '  exit 1',
  'fi',
  'find /mnt/output -mindepth 1 -delete',
  // The inputs' key (source, image, command, environment, secrets) that the volume step wrote for this build goes
  // with output/ (publish keeps it beside the release). A release kept in the volume with the same key is the one
  // this build would make: it becomes output/ (moved; copied when it serves), and nothing is built. Without a key
  // (the build container replaced on its own: `terraform apply -replace`) the build runs.
  'rm -f /mnt/.output-key',
  'if [[ -f /mnt/.build-key && ! -L /mnt/.build-key ]]; then',
  '  key=$(head -c 64 /mnt/.build-key)',
  '  mv -f -T /mnt/.build-key /mnt/.output-key || exit 1',
  '  serving=$(readlink /mnt/app 2>/dev/null)',
  '  for kept in /mnt/.releases/*.key; do',
  '    release=${kept%.key}',
  '    [[ -f "$kept" && ! -L "$kept" && -d "$release" && ! -L "$release" && "$(head -c 64 "$kept")" == "$key" ]] || continue',
  '    if [[ "$serving" == ".releases/${release##*/}" ]]; then',
  '      cp -a "$release/." /mnt/output/ || exit 1',
  '    else',
  '      rmdir /mnt/output && mv -T "$release" /mnt/output && rm -f "$kept" || exit 1',
  '    fi',
  '    echo "modulus-build: release ${release##*/} was built from the same source, image and settings: reused, not built again"',
  '    exit 0',
  '  done',
  'fi',
  'secrets=/mnt/.build-secrets',
  'if [[ -f "$secrets" ]]; then',
  '  while IFS= read -r line; do',
  '    name=${line%%=*}',
  '    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && export "$name=$(printf %s "${line#*=}" | base64 -d)"',
  '  done <"$secrets"',
  '  rm -f -- "$secrets"',
  'fi',
  'timeout --kill-after=10 "$1" build 2>&1 | tee /mnt/log/build.log 2>/dev/null | tail -n "$2"',
  'exit "${PIPESTATUS[0]}"',
].join('\n');

/** BUILD_WRAPPER running the command given as its third and further arguments instead of `build`. */
const COMMAND_WRAPPER = BUILD_WRAPPER.replace('"$1" build 2>&1', '"$1" "${@:3}" 2>&1');

/**
 * One build of an app: copies the source into the volume's input/, runs `build` from a build-<language> image
 * to completion (the deploy waits for it), and on success publishes output/ as the app's new release.
 *
 * The container runs as mop (441:444) with a read-only root file system, no capabilities, no-new-privileges, the
 * memory limit and, under the app's cgroup `/modulus/<app>`, the app's process limit (set by its RunContainer);
 * it sees the whole volume at /mnt, mounted from the volume's mount point as the run container does (never a
 * folder inside the volume by its host path, which the app could have replaced with a link). INPUT/OUTPUT and
 * INPUT_DIR/OUTPUT_DIR name /mnt/input and /mnt/output.
 *
 * The docker provider waits for a container with `attach`, keeps its output in `container_logs` (here only the
 * last `failureLogLines` lines) and its exit status in `exit_code`, but does not fail on a non-zero status; a
 * postcondition does, with those lines in the message. Exit status 124 (from `build` or `timeout`) reports a
 * timeout. The failed container stays in the state, so later plans keep failing with the same message until
 * the source or the image changes (which replaces it), or `terraform apply -replace=<build container>` runs
 * the build again. The running app is not touched by a failed build: publishing comes after the check. A
 * successful build is published as a release (`.releases/<build container id>`, with `app` a link to it
 * switched in one rename) and the app restarts in place in its run container, so it is down only for its own
 * restart; when the new build does not start, app goes back to the previous release and the deploy fails.
 */
@reportsInvalidProps
export class BuildJob extends Construct {
  /** The build's `docker_container`, run to completion (also `node.defaultChild`). */
  public readonly resource: Container;
  /**
   * Prefix of the build container's name, `modulus-build-<app>`: the container is `modulus-build-<app>-<UTC time it
   * was created, YYYYMMDDhhmmss>` (see `buildContainerName`).
   */
  public readonly containerName: string;
  /** SHA-256 of the source folder (paths, modes, contents, links as links). */
  public readonly sourceHash: string;
  /**
   * The step that publishes a successful build as the app's release and restarts the app in its running container
   * (going back to the previous release when the new one does not start). Replaced by every new build.
   */
  public readonly published: NullResource;
  private readonly volume: AppVolume;
  private delivery?: Delivery;
  /** By volume, how its publish asks whether the restarted app answers (`_awaitAnswerIn`). */
  private readonly awaitedAnswers = new Map<AppVolume, ReadinessEnvironment>();

  public constructor(scope: Construct, id: string, props: BuildJobProps) {
    super(scope, id);
    const { volume, language, memory, networkMode } = validateContainerProps(this, props, 1024);
    this.volume = volume;
    const timeout = validateInteger(this, 'timeoutSeconds', props.timeoutSeconds ?? 900, 10, 24 * 3600);
    const logLines = validateInteger(this, 'failureLogLines', props.failureLogLines ?? 30, 1, 1000);
    const buildCommand = props.command ?? [];
    if (!Array.isArray(buildCommand) || (props.command !== undefined && buildCommand.length === 0)) {
      throw invalid(this, 'command', buildCommand, "give the command and its arguments as a non-empty list, e.g. ['build', '--verbose']");
    }
    buildCommand.forEach((argument, index) => {
      requireLiteral(this, `command[${index}]`, argument);
      if (typeof argument !== 'string' || argument.includes('\0') || (index === 0 && argument.trim() === '')) {
        throw invalid(this, `command[${index}]`, argument, index === 0 ? 'give a program name or path' : 'give a string without NUL characters');
      }
    });
    const environment = props.environment ?? {};
    const secrets = props.secretEnvironment ?? {};
    validateEnvNames(this, 'environment', environment);
    validateEnvNames(this, 'secretEnvironment', secrets);
    for (const name of RESERVED_BUILD_ENV) {
      if (name in environment) throw invalid(this, `environment.${name}`, environment[name], 'leave it out: the build job sets it (/mnt/input or /mnt/output)');
      if (name in secrets) throw invalid(this, `secretEnvironment.${name}`, HIDDEN, 'leave it out: the build job sets it (/mnt/input or /mnt/output)');
    }
    for (const [name, value] of Object.entries(secrets)) {
      if (name in environment) throw invalid(this, 'secretEnvironment name', name, 'give each variable once: it is also in environment');
      if (typeof value !== 'string') throw invalid(this, `secretEnvironment.${name}`, HIDDEN, 'give a string');
    }

    requireLiteral(this, 'source', props.source);
    const sourcePath = resolveSourcePath(this, props.source);
    if (!fs.existsSync(sourcePath) || !fs.statSync(sourcePath).isDirectory()) {
      throw invalid(this, 'source', props.source, 'give an existing folder (relative paths are relative to cdktf.json)');
    }
    const escaping = sourceLinkProblems(sourcePath);
    if (escaping.length > 0) {
      const { link, target } = escaping[0];
      throw invalid(
        this,
        'source',
        props.source,
        `the link ${link} -> ${target} leads out of the folder (${escaping.length} such link${escaping.length > 1 ? 's' : ''}); replace it with the file it points at or a link inside the folder`,
      );
    }
    this.sourceHash = hashDirectory(sourcePath);
    // Our own content hash names the archive: cdktf's hashes file contents only, so renaming a file would not change
    // it. Its path in the JSON is relative and content-addressed.
    const archive = stackSourceArchive(this, sourceArchive(sourcePath, this.sourceHash), this.sourceHash);

    // Secrets: a sensitive hash in the triggers (a new value builds again), the values only in the step's
    // sensitive environment.
    const secretValues = secretStepValues(this, secrets, 'MODULUS_BUILD_SECRET_');
    const inputTriggers = { source_sha256: this.sourceHash, image: props.image, ...secretValues.triggers };
    // What the build's output depends on: a release kept in the volume under the same key is reused (BUILD_WRAPPER).
    const releaseKey = Fn.sha256(Fn.join('\n', [this.sourceHash, props.image, ...buildCommand.map(escapeTemplate), ...dockerEnv(environment), ...Object.values(secretValues.triggers)]));
    const inputEnv = { MODULUS_BUILD_SECRET_NAMES: Object.keys(secrets).sort().join(' '), MODULUS_BUILD_KEY: releaseKey, ...secretValues.environment };
    // The source reaches the volume's host: as it is locally, uploaded over SSH to a remote host.
    const input = volume._scriptStep(this, 'Input', {
      command: 'prepare-build',
      triggers: inputTriggers,
      environment: inputEnv,
      dependsOn: volume.ready,
      uploads: [{ source: archive, env: 'MODULUS_SOURCE' }],
    });

    this.containerName = buildContainerName(volume.appName);
    const lines = `split("\\n", trimspace(self.container_logs == null ? "" : self.container_logs))`;
    const lastLines = `join("\\n", slice(${lines}, max(0, length(${lines}) - ${logLines}), length(${lines})))`;
    const outcome =
      `self.exit_code == 124 ? "timed out after ${timeout} s" : ` +
      `self.exit_code == 137 ? "was killed (exit status 137: out of memory at ${memory} MiB, or the timeout's kill)" : ` +
      `"failed with exit status \${self.exit_code}"`;

    this.resource = new Container(this, 'Container', {
      provider: volume.host?.resource,
      // A name of its own per attempt: a build container that an interrupted apply (Terraform killed) created
      // but never recorded in the state keeps its name, and the next apply's container must not collide with it
      // (Docker refuses a name in use, and the provider does not adopt containers). The time is read at apply;
      // once created, the name is the container's (ignore_changes), so plans stay empty.
      name: `${this.containerName}-\${formatdate("YYYYMMDDhhmmss", timestamp())}`,
      image: props.image,
      // The Modulus build images enforce BUILD_TIMEOUT themselves (killing the whole process tree, exit 124);
      // coreutils' timeout, a little later, is the backstop for any other image.
      command: [
        'bash',
        '-c',
        escapeTemplate(props.command ? COMMAND_WRAPPER : BUILD_WRAPPER),
        'modulus-build',
        String(timeout + 30),
        String(logLines),
        ...buildCommand.map(escapeTemplate),
      ],
      user: MOP_USER,
      readOnly: true,
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
      memory,
      memorySwap: memory,
      cgroupParent: `/modulus/${volume.appName}`,
      logDriver: 'json-file',
      logOpts: { 'max-size': '10m', 'max-file': '2' },
      networkMode,
      env: dockerEnv({
        ...environment,
        BUILD_TIMEOUT: String(timeout),
        INPUT: '/mnt/input',
        OUTPUT: '/mnt/output',
        INPUT_DIR: '/mnt/input',
        OUTPUT_DIR: '/mnt/output',
      }),
      mounts: [{ type: 'bind', source: volume.hostPath, target: '/mnt' }],
      labels: [
        { label: 'org.modulus.app', value: volume.appName },
        { label: 'org.modulus.role', value: 'build' },
        { label: 'org.modulus.language', value: language },
        { label: 'org.modulus.source-sha256', value: this.sourceHash },
        // A new copy of the source (or a new volume) replaces the container, i.e. builds again.
        { label: 'org.modulus.input', value: input.id },
      ],
      // Run to completion: apply waits for the exit and keeps the output.
      attach: true,
      logs: true,
      mustRun: false,
      start: true,
      dependsOn: [input],
      lifecycle: {
        ignoreChanges: ['name'],
        postcondition: [
          {
            condition: '${self.exit_code == 0}',
            errorMessage: `Build of app '${volume.appName}' (${language}) \${${outcome}}. Last log lines:\n\${${lastLines}}`,
          },
        ],
      },
    });

    this.node.defaultChild = this.resource;
    this.published = volume._scriptStep(this, 'Publish', {
      command: 'publish',
      triggers: { build: this.resource.id, source_sha256: this.sourceHash },
      environment: {
        MODULUS_RELEASE: this.resource.id,
        MODULUS_RUN_CONTAINER: runContainerName(volume.appName),
        ...(props._release ? props._release.environment : this.answerEnvironment(volume)),
      },
      dependsOn: [this.resource, ...(props._release?.dependsOn ?? [])],
    });
  }

  /**
   * @internal The publish step of `volume` (this build's, or an instance's it delivers to) restarts the app in place
   * and then waits until it answers as `readiness` says (its RunContainer's), not for supervisord's `startsecs`.
   */
  public _awaitAnswerIn(volume: AppVolume, readiness: ReadinessEnvironment): void {
    this.awaitedAnswers.set(volume, readiness);
  }

  /** MODULUS_READY_PORTS and the rest for `volume`'s publish, read once its RunContainer has given them (empty: none). */
  private answerEnvironment(volume: AppVolume): Record<string, string> {
    return Object.fromEntries(READINESS_VARIABLES.map((name) => [name, Lazy.stringValue({ produce: () => this.awaitedAnswers.get(volume)?.[name] ?? '' })]));
  }

  /**
   * Delivers each successful build to another instance of the app (`volume`, on another host) and publishes it
   * there. Once per build, `Export` writes the release from this build's volume as a tar archive on this machine
   * (before this volume's own publish); each instance's `Receive` hands it to `volume` (uploaded over SSH to a
   * remote host), unpacks it as mop and stages it under the same release id, beside the publishes of the
   * instances before it; its `Publish`, which `release.dependsOn` may hold back (a rolling release), then only
   * switches to it. `Delivered` removes the archive once every instance has it. All are keyed on the build
   * container's id, so every instance runs byte for byte what was built once.
   * @internal
   */
  public _deliverTo(scope: Construct, volume: AppVolume, release: { readonly environment: Record<string, string>; readonly dependsOn: ITerraformDependable[] }): NullResource {
    const delivery = (this.delivery ??= this.startDelivery());
    delivery.receivers.push(volume);
    const received = volume._scriptStep(scope, 'Receive', {
      command: 'receive',
      triggers: { build: this.resource.id },
      environment: { MODULUS_RELEASE: this.resource.id },
      uploads: [{ source: delivery.archive, env: 'MODULUS_RELEASE_ARCHIVE' }],
      dependsOn: [delivery.exported, ...volume.ready],
    });
    const publish = volume._scriptStep(scope, 'Publish', {
      command: 'publish',
      triggers: { build: this.resource.id, source_sha256: this.sourceHash },
      environment: {
        MODULUS_RELEASE: this.resource.id,
        MODULUS_RUN_CONTAINER: runContainerName(volume.appName),
        MODULUS_RELEASE_RECEIVED: 'true',
        ...(Object.keys(release.environment).length > 0 ? release.environment : this.answerEnvironment(volume)),
      },
      dependsOn: [received, ...volume.ready, ...release.dependsOn],
    });
    delivery.delivered.dependsOn = [...(delivery.delivered.dependsOn ?? []), addressOf(received)];
    return publish;
  }

  /** The archive of each build for the other instances: written once (Export), removed once all have it (Delivered). */
  private startDelivery(): Delivery {
    const archive = `${DELIVERY_FOLDER}/${this.volume.appName}.tar`;
    const receivers: AppVolume[] = [];
    // This volume is this machine's (ModulusApp puts the building instance on a unix:// engine): the step runs here.
    const exported = this.volume._scriptStep(this, 'Export', {
      command: 'export-release',
      triggers: { build: this.resource.id },
      environment: {
        MODULUS_RELEASE: this.resource.id,
        MODULUS_RELEASE_ARCHIVE: archive,
        // At most what the largest receiving volume holds.
        MODULUS_RELEASE_MAX_MIB: Lazy.stringValue({ produce: () => String(Math.max(...receivers.map((receiver) => receiver.sizeMiB))) }),
      },
      dependsOn: [this.resource],
    });
    this.published.dependsOn = [...(this.published.dependsOn ?? []), addressOf(exported)];
    const delivered = new NullResource(this, 'Delivered', {
      provider: nullProvider(this),
      triggers: { build: this.resource.id },
      provisioners: [{ type: 'local-exec', command: 'rm -f -- "$MODULUS_RELEASE_ARCHIVE"', environment: { MODULUS_RELEASE_ARCHIVE: archive } }],
    });
    return { archive, receivers, exported, delivered };
  }
}

/** A resource's address, as `depends_on` lists it (added after the resource that depends on it was created). */
function addressOf(resource: NullResource): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
}

interface Delivery {
  readonly archive: string;
  readonly receivers: AppVolume[];
  readonly exported: NullResource;
  readonly delivered: NullResource;
}

/** Folder of Terraform's working directory where a release waits, as a tar archive, for delivery to the other instances. */
const DELIVERY_FOLDER = '.modulus-releases';

/**
 * The source folder as a tar archive (links kept as links), written once per content hash into this machine's
 * temporary folder, from where the asset copies it into the stack's output.
 */
function sourceArchive(sourcePath: string, hash: string): string {
  const dir = path.join(os.tmpdir(), 'modulus-images-sources');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${hash}.tar`);
  if (!fs.existsSync(file)) {
    const partial = `${file}.${process.pid}.partial`;
    writeSourceArchive(sourcePath, partial);
    fs.renameSync(partial, file);
  }
  return file;
}

/** Like TerraformAsset: relative paths are relative to the folder of cdktf.json (else the working directory). */
function resolveSourcePath(scope: Construct, source: string): string {
  if (typeof source !== 'string' || source === '') throw invalid(scope, 'source', source, 'give a folder path');
  if (path.isAbsolute(source)) return source;
  let cdktfJson: string | undefined = scope.node.tryGetContext('cdktfJsonPath');
  for (let dir = process.cwd(); !cdktfJson; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdktf.json'))) cdktfJson = path.join(dir, 'cdktf.json');
    if (path.dirname(dir) === dir) break;
  }
  return path.resolve(cdktfJson ? path.dirname(cdktfJson) : process.cwd(), source);
}
