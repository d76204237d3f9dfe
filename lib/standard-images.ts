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

/**
 * The languages this package ships images for: root → base → build-base → build-{node,java,php,static};
 * base → run-base → run-{node,java,php,static}.
 */
export const LANGUAGES = ['node', 'java', 'php', 'static'] as const;

/**
 * A language: a lowercase letter, then lowercase letters or digits (at most 30 characters), naming the
 * `build-<language>` and `run-<language>` images an app is built and run with. One of LANGUAGES, or any other
 * name whose images a hierarchy has, e.g. `python` once `build-python` and `run-python` are added through
 * `ImageHierarchyProps.additionalImages`.
 */
export type Language = string;

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
