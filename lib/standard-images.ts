/**
 * The Modulus image standard as data: every image, the image it is built FROM and the folder under images/
 * holding its Dockerfile. `ImageHierarchy` turns this into Terraform resources; the contract tests build the
 * same tree with plain `docker build` from the same description.
 */
export interface ImageSpec {
  /** Image name, unique in a hierarchy; also the default folder name under images/. */
  readonly name: string;
  /** Name of the parent image in the same hierarchy, or undefined for an image built FROM the root image. */
  readonly parent?: string;
}

/** root → base → build-base → build-{node,java,php,static}; base → run-base → run-{node,java,php,static}. */
export const LANGUAGES = ['node', 'java', 'php', 'static'] as const;
export type Language = (typeof LANGUAGES)[number];

export const STANDARD_IMAGES: readonly ImageSpec[] = [
  { name: 'base' },
  { name: 'build-base', parent: 'base' },
  ...LANGUAGES.map((language) => ({ name: `build-${language}`, parent: 'build-base' })),
  { name: 'run-base', parent: 'base' },
  ...LANGUAGES.map((language) => ({ name: `run-${language}`, parent: 'run-base' })),
];

/** Default Docker repository prefix and tag of the images we build. */
export const DEFAULT_REPOSITORY_PREFIX = 'modulus/';
export const DEFAULT_TAG = 'latest';
/** Build arg through which a Dockerfile receives its parent image (`ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`). */
export const PARENT_BUILD_ARG = 'BASE_IMAGE';
