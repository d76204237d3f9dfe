import * as path from 'path';
import { Construct } from 'constructs';
import { isValidReference, lengthProblem, REFERENCE_HELP } from './docker-reference';
import { ModulusImage } from './modulus-image';
import { invalid } from './private/validation';
import { standardImagesDirectory } from './package-root';
import { DEFAULT_REPOSITORY_PREFIX, DEFAULT_TAG, ImageSpec, STANDARD_IMAGES } from './standard-images';
import { reportsInvalidProps } from './private/synth-errors';

/** The public Debian image the hierarchy starts from unless told otherwise. */
export const DEFAULT_ROOT_IMAGE = 'debian:bookworm-slim';

/** An image added to a hierarchy, e.g. `build-python` under `build-base`. */
export interface ImageDefinition extends ImageSpec {
  /**
   * Folder with the image's Dockerfile.
   * @default `<imagesDirectory>/<name>`
   */
  readonly directory?: string;
  /** @default {} */
  readonly buildArgs?: Record<string, string>;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

export interface ImageHierarchyProps {
  /**
   * The image at the top of the tree; `base` is built FROM it. Any Debian or Ubuntu image works
   * (phusion/baseimage included).
   * @default 'debian:bookworm-slim'
   */
  readonly rootImage?: string;
  /**
   * The images of the tree, parents before or after children (order does not matter).
   * @default STANDARD_IMAGES: base, build-base, build-{node,java,php,static}, run-base, run-{node,java,php,static}
   */
  readonly images?: readonly ImageDefinition[];
  /**
   * Images added on top of `images`, e.g. `{ name: 'run-python', parent: 'run-base', directory: ... }`.
   * @default []
   */
  readonly additionalImages?: readonly ImageDefinition[];
  /**
   * Where image folders are looked up by name when a definition gives no `directory`.
   * @default the images/ folder of this package
   */
  readonly imagesDirectory?: string;
  /**
   * Prefix of every image's repository name.
   * @default 'modulus/'
   */
  readonly repositoryPrefix?: string;
  /** @default 'latest' */
  readonly tag?: string;
  /**
   * Labels set on every image.
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /**
   * Keep images in the engine when the stack is destroyed.
   * @default false
   */
  readonly keepLocally?: boolean;
}

const NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The whole image tree from one declarative description; every image is a `ModulusImage` wired to its parent. */
@reportsInvalidProps
export class ImageHierarchy extends Construct {
  public readonly rootImage: string;
  private readonly byName = new Map<string, ModulusImage>();

  constructor(scope: Construct, id: string, props: ImageHierarchyProps = {}) {
    super(scope, id);
    this.rootImage = props.rootImage ?? DEFAULT_ROOT_IMAGE;
    if (!isValidReference(this.rootImage)) {
      throw invalid(this, 'rootImage', this.rootImage, lengthProblem(this.rootImage) ?? `give ${REFERENCE_HELP}`);
    }
    const definitions = [...(props.images ?? STANDARD_IMAGES), ...(props.additionalImages ?? [])];
    const specs = new Map<string, ImageDefinition>();
    for (const definition of definitions) {
      if (typeof definition.name !== 'string' || !NAME_RE.test(definition.name)) {
        throw invalid(this, 'image name', definition.name, "use lowercase letters and digits joined by '-', e.g. 'run-python'");
      }
      if (specs.has(definition.name)) {
        throw invalid(this, 'image name', definition.name, 'give each image once: it is defined twice');
      }
      specs.set(definition.name, definition);
    }
    for (const spec of specs.values()) {
      if (spec.parent !== undefined && !specs.has(spec.parent)) {
        throw invalid(this, `images[${spec.name}].parent`, spec.parent, `give one of the images: ${[...specs.keys()].sort().join(', ')}`);
      }
    }
    const imagesDirectory = props.imagesDirectory ?? standardImagesDirectory();
    const create = (name: string, chain: string[]): ModulusImage => {
      const existing = this.byName.get(name);
      if (existing) return existing;
      if (chain.includes(name)) {
        throw invalid(this, `images[${chain[chain.length - 1]}].parent`, name, `break the cycle ${[...chain.slice(chain.indexOf(name)), name].join(' -> ')}`);
      }
      const spec = specs.get(name)!;
      const parent = spec.parent === undefined ? this.rootImage : create(spec.parent, [...chain, name]);
      const image = new ModulusImage(this, name, {
        repository: `${props.repositoryPrefix ?? DEFAULT_REPOSITORY_PREFIX}${name}`,
        tag: props.tag ?? DEFAULT_TAG,
        directory: spec.directory ?? path.join(imagesDirectory, name),
        parent,
        buildArgs: spec.buildArgs,
        labels: { ...props.labels, 'org.modulus.image': name, ...spec.labels },
        keepLocally: props.keepLocally,
      });
      this.byName.set(name, image);
      return image;
    };
    for (const name of [...specs.keys()].sort()) create(name, []);
  }

  /** The image called `name`; throws, listing the known names, when there is none. */
  public image(name: string): ModulusImage {
    const image = this.tryImage(name);
    if (!image) {
      throw invalid(this, 'image name', name, `give one of the images: ${this.names.join(', ')}`);
    }
    return image;
  }

  /** The image called `name`, or undefined when the hierarchy has none. */
  public tryImage(name: string): ModulusImage | undefined {
    return this.byName.get(name);
  }

  /** Names of all images, sorted. */
  public get names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** All images, sorted by name. */
  public get images(): ModulusImage[] {
    return this.names.map((name) => this.byName.get(name)!);
  }
}
