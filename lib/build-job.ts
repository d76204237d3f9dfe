import * as fs from 'fs';
import * as path from 'path';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import { AssetType, TerraformAsset } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { Construct } from 'constructs';
import { AppVolume } from './app-volume';
import { hashDirectory } from './content-hash';
import { NetworkMode } from './network-mode';
import { MOP_USER, dockerEnv, validateContainerProps, validateEnvNames } from './private/app-runtime';
import { invalid, requireLiteral, validateInteger } from './private/validation';
import { Language } from './standard-images';

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
   * How many of the build's last log lines the failure message shows.
   * @default 30
   */
  readonly failureLogLines?: number;
}

export interface BuildJobProps extends BuildJobOptions {
  /** The app's volume: input/ (read-only), output/, home/ and tmp/ are mounted from it. */
  readonly volume: AppVolume;

  /** The build image: id or reference of a build-<language> image, e.g. a ModulusImage's `imageId`. */
  readonly image: string;

  /** The app's language (labels the container; a language name, see `Language`). */
  readonly language: Language;

  /**
   * Local folder holding the app's source. It is packaged with the stack (content-addressed, so the
   * synthesized JSON holds no absolute path), copied into the volume's input/ before the build, and a change
   * of its content (or of the image) runs the build again. Relative paths are relative to cdktf.json's folder.
   */
  readonly source: string;

  /**
   * Network of the build (builds usually need the network to fetch dependencies).
   * @default NetworkMode.BRIDGE
   */
  readonly networkMode?: NetworkMode;
}

/** Name of an app's build container. */
export function buildContainerName(app: string): string {
  return `modulus-build-${app}`;
}

const RESERVED_BUILD_ENV = ['INPUT', 'OUTPUT', 'INPUT_DIR', 'OUTPUT_DIR', 'BUILD_TIMEOUT'];

/**
 * One build of an app: copies the source into the volume's input/, runs `build` from a build-<language> image
 * to completion (the deploy waits for it), and on success moves output/ to app/ for the run container.
 *
 * The container runs as mop (441:444) with a read-only root file system, no capabilities and
 * no-new-privileges; it sees the volume's input/ read-only and output/, home/ and tmp/ writable (not app/,
 * logs or supervisor.conf). INPUT/OUTPUT and INPUT_DIR/OUTPUT_DIR name /mnt/input and /mnt/output.
 *
 * The docker provider waits for a container with `attach`, keeps its output in `container_logs` and its exit
 * status in `exit_code`, but does not fail on a non-zero status; a postcondition does, with the last log
 * lines in the message. Exit status 124 (from `build` or `timeout`) reports a timeout. The failed container
 * stays in the state, so later plans keep failing with the same message until the source or the image changes
 * (which replaces it), or `terraform apply -replace=<build container>` runs the build again. The running app
 * is not touched by a failed build: publishing comes after the check, and the run container is never replaced
 * by a build. A successful build is published by renaming output/ to app/ and restarting the app in place
 * (supervisord's stopProcess/startProcess through its socket in the volume), so the app is down only for its
 * own restart; when the new build does not start, the previous one is put back and restarted, and the deploy
 * fails.
 */
export class BuildJob extends Construct {
  /** The build's `docker_container`, run to completion (also `node.defaultChild`). */
  public readonly resource: Container;
  /** The build container's name, `modulus-build-<app>`. */
  public readonly containerName: string;
  /** SHA-256 of the source folder (paths, modes, contents). */
  public readonly sourceHash: string;
  /**
   * The step that publishes a successful build's output to app/ and restarts the app in its running container
   * (putting the previous build back when the new one does not start). Replaced by every new build.
   */
  public readonly published: NullResource;

  public constructor(scope: Construct, id: string, props: BuildJobProps) {
    super(scope, id);
    const { volume, language, memory, networkMode } = validateContainerProps(this, props, 1024);
    const timeout = validateInteger(this, 'timeoutSeconds', props.timeoutSeconds ?? 900, 10, 24 * 3600);
    const logLines = validateInteger(this, 'failureLogLines', props.failureLogLines ?? 30, 1, 1000);
    const environment = props.environment ?? {};
    validateEnvNames(this, 'environment', environment);
    for (const name of RESERVED_BUILD_ENV) {
      if (name in environment) throw invalid(this, `environment.${name}`, environment[name], 'leave it out: the build job sets it (/mnt/input or /mnt/output)');
    }

    requireLiteral(this, 'source', props.source);
    const sourcePath = resolveSourcePath(this, props.source);
    if (!fs.existsSync(sourcePath) || !fs.statSync(sourcePath).isDirectory()) {
      throw invalid(this, 'source', props.source, 'give an existing folder (relative paths are relative to cdktf.json)');
    }
    this.sourceHash = hashDirectory(sourcePath);
    // Our own content hash names the asset: cdktf's default hashes file contents only, so renaming a file would
    // not change it. The asset path in the JSON is relative and content-addressed.
    const asset = new TerraformAsset(this, 'Source', {
      path: sourcePath,
      type: AssetType.DIRECTORY,
      assetHash: this.sourceHash.slice(0, 32).toUpperCase(),
    });

    // The source reaches the volume's host: as it is locally, uploaded over SSH to a remote host.
    const input = volume._scriptStep(this, 'Input', 'prepare-build', { source_sha256: this.sourceHash, image: props.image }, {}, volume.ready, [
      { source: asset.path, env: 'MODULUS_SOURCE' },
    ]);

    this.containerName = buildContainerName(volume.appName);
    const mount = (dir: string, readOnly = false) => ({
      type: 'bind',
      source: `${volume.hostPath}/${dir}`,
      target: `/mnt/${dir}`,
      readOnly,
    });
    const lines = `split("\\n", trimspace(self.container_logs == null ? "" : self.container_logs))`;
    const lastLines = `join("\\n", slice(${lines}, max(0, length(${lines}) - ${logLines}), length(${lines})))`;
    const outcome =
      `self.exit_code == 124 ? "timed out after ${timeout} s" : ` +
      `self.exit_code == 137 ? "was killed (exit status 137: out of memory at ${memory} MiB, or the timeout's kill)" : ` +
      `"failed with exit status \${self.exit_code}"`;

    this.resource = new Container(this, 'Container', {
      provider: volume.host?.resource,
      name: this.containerName,
      image: props.image,
      // The Modulus build images enforce BUILD_TIMEOUT themselves (killing the whole process tree, exit 124);
      // coreutils' timeout, a little later, is the backstop for any other image.
      command: ['timeout', '--kill-after=10', String(timeout + 30), 'build'],
      user: MOP_USER,
      readOnly: true,
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
      memory,
      memorySwap: memory,
      networkMode,
      env: dockerEnv({
        ...environment,
        BUILD_TIMEOUT: String(timeout),
        INPUT: '/mnt/input',
        OUTPUT: '/mnt/output',
        INPUT_DIR: '/mnt/input',
        OUTPUT_DIR: '/mnt/output',
      }),
      mounts: [mount('input', true), mount('output'), mount('home'), mount('tmp')],
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
        postcondition: [
          {
            condition: '${self.exit_code == 0}',
            errorMessage: `Build of app '${volume.appName}' (${language}) \${${outcome}}. Last log lines:\n\${${lastLines}}`,
          },
        ],
      },
    });

    this.node.defaultChild = this.resource;
    this.published = volume._scriptStep(this, 'Publish', 'publish', { build: this.resource.id }, {}, [this.resource]);
  }
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
