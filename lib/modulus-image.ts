import * as fs from 'fs';
import * as path from 'path';
import { Image } from '@cdktf/provider-docker/lib/image';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { hashDirectory } from './content-hash';
import { isValidReference, isValidRepository, isValidTag, REFERENCE_HELP } from './docker-reference';
import { DEFAULT_TAG, PARENT_BUILD_ARG } from './standard-images';

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
   * Network mode of the build containers (`RUN` steps). `host` works where Docker has no default bridge.
   * @default 'host'
   */
  readonly buildNetworkMode?: string;
  /**
   * Keep the image in the engine when the resource is destroyed.
   * @default false
   */
  readonly keepLocally?: boolean;
}

/** One image of the standard: a `docker_image` built from a folder, FROM its parent, rebuilt when either changes. */
export class ModulusImage extends Construct {
  /** `repository:tag`, the name the image is built under. */
  public readonly imageRef: string;
  /** The image's id once built (a Terraform reference): use it to run containers from this exact build. */
  public readonly imageId: string;
  /** SHA-256 over the build context (paths, executable bits, contents). */
  public readonly contextHash: string;
  /** The parent, when it is part of the same hierarchy. */
  public readonly parentImage?: ModulusImage;
  public readonly resource: Image;

  constructor(scope: Construct, id: string, props: ModulusImageProps) {
    super(scope, id);
    const where = this.node.path;
    const tag = props.tag ?? DEFAULT_TAG;
    if (!isValidRepository(props.repository)) {
      throw new Error(`${where}: repository "${props.repository}" is not valid; expected ${REFERENCE_HELP}.`);
    }
    if (!isValidTag(tag)) {
      throw new Error(`${where}: tag "${tag}" is not valid; expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.`);
    }
    const parentRef = typeof props.parent === 'string' ? props.parent : props.parent.imageRef;
    if (typeof props.parent === 'string' && !isValidReference(props.parent)) {
      throw new Error(`${where}: parent "${props.parent}" is not valid; expected ${REFERENCE_HELP}.`);
    }
    const directory = path.resolve(props.directory);
    if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) {
      throw new Error(`${where}: directory "${props.directory}" does not exist; create it with a Dockerfile in it.`);
    }
    if (!fs.existsSync(path.join(directory, 'Dockerfile'))) {
      throw new Error(
        `${where}: directory "${props.directory}" has no Dockerfile; add one starting with ` +
          `"ARG ${PARENT_BUILD_ARG}" and "FROM \${${PARENT_BUILD_ARG}}".`,
      );
    }
    if (props.buildArgs && PARENT_BUILD_ARG in props.buildArgs) {
      throw new Error(`${where}: buildArgs.${PARENT_BUILD_ARG} is reserved for the parent image; set "parent" instead.`);
    }

    this.imageRef = `${props.repository}:${tag}`;
    this.parentImage = typeof props.parent === 'string' ? undefined : props.parent;
    this.contextHash = hashDirectory(directory);
    const context = new TerraformAsset(this, 'context', {
      path: directory,
      type: AssetType.DIRECTORY,
      assetHash: this.contextHash.slice(0, 32).toUpperCase(),
    });

    this.resource = new Image(this, 'image', {
      name: this.imageRef,
      keepLocally: props.keepLocally ?? false,
      // A rebuild removes the old image while containers (in other stacks) still run it: force only untags it,
      // and the old layers go once those containers are replaced.
      forceRemove: true,
      buildAttribute: {
        context: context.path,
        buildArgs: { ...sortedRecord(props.buildArgs ?? {}), [PARENT_BUILD_ARG]: parentRef },
        label: sortedRecord(props.labels ?? {}),
        networkMode: props.buildNetworkMode ?? 'host',
      },
      triggers: {
        context_sha256: this.contextHash,
        parent: this.parentImage ? this.parentImage.imageId : parentRef,
      },
    });
    this.imageId = this.resource.imageId;
  }
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
