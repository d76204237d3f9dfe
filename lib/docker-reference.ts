/**
 * Docker image reference grammar (distribution/reference): [domain[:port]/]path-component(/path-component)*
 * [:tag][@digest]. Used to reject bad names at synth time instead of at `docker build` time.
 */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
// A first component is a registry host only when it has a "." or a ":" or is "localhost" (Docker's own rule,
// minus its upper-case exception, which turns typos like "Modulus/base" into registry hosts).
const DOMAIN =
  `(?:localhost|${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})+|\\[[0-9a-fA-F:]+\\]|${DOMAIN_COMPONENT})(?::[0-9]+)?`;
const HOST_PREFIX = `(?:(?=[^/]*[.:]|localhost/)${DOMAIN}/)`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REPOSITORY_RE = new RegExp(`^${HOST_PREFIX}?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const REFERENCE_RE = new RegExp(
  `^${HOST_PREFIX}?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`,
);

/** Maximum length of a repository name, as enforced by Docker. */
export const MAX_REPOSITORY_LENGTH = 255;

/** What is allowed of a reference or repository name that is too long, or undefined when its length is fine. */
export function lengthProblem(reference: string): string | undefined {
  if (typeof reference !== 'string') return undefined;
  const repository = reference.split('@')[0].replace(new RegExp(`:${TAG}$`), '');
  return repository.length > MAX_REPOSITORY_LENGTH ? `use at most ${MAX_REPOSITORY_LENGTH} characters in the repository name (this one has ${repository.length})` : undefined;
}

export function isValidRepository(name: string): boolean {
  return name.length <= MAX_REPOSITORY_LENGTH && REPOSITORY_RE.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** A full reference such as `debian:bookworm-slim`, `host:5000/team/app:1.0` or `repo@sha256:…`. */
export function isValidReference(reference: string): boolean {
  if (!REFERENCE_RE.test(reference)) return false;
  const repository = reference.split('@')[0].replace(new RegExp(`:${TAG}$`), '');
  return repository.length <= MAX_REPOSITORY_LENGTH;
}

export const REFERENCE_HELP =
  'a Docker image reference: lowercase path components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/", ' +
  'an optional registry host[:port]/ prefix, an optional :tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) and an optional @sha256:<digest>';
