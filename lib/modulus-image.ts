import * as fs from 'fs';
import * as path from 'path';
import { Image } from '@cdktf/provider-docker/lib/image';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { hashDirectory } from './content-hash';
import { isValidReference, isValidRepository, isValidTag, lengthProblem, REFERENCE_HELP } from './docker-reference';
import { NetworkMode } from './network-mode';
import { moveFromPreviousAddress, renamedChild } from './private/moves';
import { invalid, validateEnum } from './private/validation';
import { DEFAULT_TAG, PARENT_BUILD_ARG } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

export interface ModulusImageProps {
  /** Repository name of the image, e.g. `modulus/run-node`. */
  readonly repository: string;
  /**
   * Tag of the image.
   * @default 'latest'
   */
  readonly tag?: string;
  /** Folder holding the Dockerfile; the whole folder is the build context and travels inside cdktf.out. */
  readonly directory: string;
  /**
   * The image this one is built FROM: another `ModulusImage` (built first, and a change of its image id
   * rebuilds this one) or a reference to an existing image such as `debian:bookworm-slim`.
   */
  readonly parent: ModulusImage | string;
  /**
   * Extra build args. `BASE_IMAGE` is reserved: it always carries the parent's reference.
   * @default {}
   */
  readonly buildArgs?: Record<string, string>;
  /**
   * Labels set on the image.
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /**
   * Network of the build containers (`RUN` steps). HOST works where Docker has no default bridge.
   * @default NetworkMode.HOST
   */
  readonly buildNetworkMode?: NetworkMode;
  /**
   * Keep the image in the engine when the resource is destroyed.
   * @default false
   */
  readonly keepLocally?: boolean;
}

/** One image of the standard: a `docker_image` built from a folder, FROM its parent, rebuilt when either changes. */
@reportsInvalidProps
export class ModulusImage extends Construct {
  /** `repository:tag`, the name the image is built under. */
  public readonly imageRef: string;
  /** The image's id once built (a Terraform reference): use it to run containers from this exact build. */
  public readonly imageId: string;
  /** SHA-256 over the build context (paths, executable bits, contents). */
  public readonly contextHash: string;
  /** The parent, when it is part of the same hierarchy. */
  public readonly parentImage?: ModulusImage;
  /** The `docker_image` (also `node.defaultChild`). */
  public readonly resource: Image;

  constructor(scope: Construct, id: string, props: ModulusImageProps) {
    super(scope, id);
    const tag = props.tag ?? DEFAULT_TAG;
    if (!isValidRepository(props.repository)) {
      throw invalid(this, 'repository', props.repository, lengthProblem(props.repository) ?? `give ${REFERENCE_HELP}`);
    }
    if (!isValidTag(tag)) {
      throw invalid(this, 'tag', tag, 'give a tag matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}');
    }
    if (typeof props.parent !== 'string' && !(props.parent instanceof ModulusImage)) {
      throw invalid(this, 'parent', props.parent, `give a ModulusImage or an image reference (${REFERENCE_HELP})`);
    }
    const parentRef = typeof props.parent === 'string' ? props.parent : props.parent.imageRef;
    if (typeof props.parent === 'string' && !isValidReference(props.parent)) {
      throw invalid(this, 'parent', props.parent, lengthProblem(props.parent) ?? `give a ModulusImage or an image reference (${REFERENCE_HELP})`);
    }
    const directory = path.resolve(props.directory);
    if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) {
      throw invalid(this, 'directory', props.directory, 'give an existing folder holding a Dockerfile');
    }
    if (!fs.existsSync(path.join(directory, 'Dockerfile'))) {
      throw invalid(
        this,
        'directory',
        props.directory,
        `give a folder with a Dockerfile in it, starting with "ARG ${PARENT_BUILD_ARG}" and "FROM \${${PARENT_BUILD_ARG}}" (it has none)`,
      );
    }
    if (props.buildArgs && PARENT_BUILD_ARG in props.buildArgs) {
      throw invalid(this, `buildArgs.${PARENT_BUILD_ARG}`, props.buildArgs[PARENT_BUILD_ARG], 'leave it out: it carries the parent image; set parent instead');
    }
    const networkMode = validateEnum(this, 'buildNetworkMode', props.buildNetworkMode ?? NetworkMode.HOST, NetworkMode, 'NetworkMode');

    this.imageRef = `${props.repository}:${tag}`;
    this.parentImage = typeof props.parent === 'string' ? undefined : props.parent;
    this.contextHash = hashDirectory(directory);
    renamedChild(this, 'Context', 'context');
    renamedChild(this, 'Image', 'image');
    const context = new TerraformAsset(this, 'Context', {
      path: directory,
      type: AssetType.DIRECTORY,
      assetHash: this.contextHash.slice(0, 32).toUpperCase(),
    });

    this.resource = new Image(this, 'Image', {
      name: this.imageRef,
      keepLocally: props.keepLocally ?? false,
      // A rebuild removes the old image while containers (in other stacks) still run it: force only untags it,
      // and the old layers go once those containers are replaced.
      forceRemove: true,
      buildAttribute: {
        context: context.path,
        buildArgs: { ...sortedRecord(props.buildArgs ?? {}), [PARENT_BUILD_ARG]: parentRef },
        label: sortedRecord(props.labels ?? {}),
        networkMode,
      },
      triggers: {
        context_sha256: this.contextHash,
        parent: this.parentImage ? this.parentImage.imageId : parentRef,
      },
    });
    this.node.defaultChild = this.resource;
    moveFromPreviousAddress(this.resource);
    this.imageId = this.resource.imageId;
  }
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
