/**
 * Runs `work` without the stack traces cdktf records for its tokens.
 *
 * cdktf records a stack trace of unlimited depth for every token it creates: each attribute reference, each of the
 * dozen nested-block objects a docker_container binding makes in its constructor, and more while it resolves a
 * stack. It captures the trace on a plain object and formats it at once; under ts-node, source-map-support then maps
 * every frame back to its source. Formatting them, and collecting the garbage they leave, was most of a 400-app
 * synth's time (bench/scale.ts). They only show in cdktf's message about a token it cannot resolve, where they
 * point into cdktf's compiled JavaScript. So inside `work` a trace captured on anything but an Error is empty
 * (cdktf then records none), and an Error read inside `work` is formatted as Node formats it, without an installed
 * `Error.prepareStackTrace` hook. V8 formats an error's `stack` when it is first read, so an error thrown out of
 * `work` still gets the hook.
 */
export function withoutTokenTraces<T>(work: () => T): T {
  // @types/node declares the hook as always set; it is unset unless something installed one.
  const errors: { prepareStackTrace?: ErrorConstructor['prepareStackTrace'] } = Error;
  const hook = errors.prepareStackTrace;
  errors.prepareStackTrace = formatErrorsOnly;
  try {
    return work();
  } finally {
    errors.prepareStackTrace = hook;
  }
}

/** Node's own format for an Error ("Error: message" and an "at" line per frame); nothing for any other object. */
function formatErrorsOnly(target: unknown, frames: NodeJS.CallSite[]): string {
  if (!(target instanceof Error)) return '';
  const heading = Error.prototype.toString.call(target);
  return frames.length === 0 ? heading : `${heading}\n    at ${frames.join('\n    at ')}`;
}
