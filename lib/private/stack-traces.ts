/**
 * Runs `work` without the stack traces cdktf records for its tokens.
 *
 * cdktf records a stack trace of unlimited depth for every token it creates: each attribute reference, each of the
 * dozen nested-block objects a docker_container binding makes in its constructor, and more while it resolves a
 * stack. It captures the trace on a plain object with `Error.captureStackTrace` and formats it at once; under
 * ts-node, source-map-support then maps every frame back to its source. Collecting and formatting them, and
 * collecting the garbage they leave, was most of a 400-app synth's time (bench/scale.ts). They only show in cdktf's
 * message about a token it cannot resolve, where they point into cdktf's compiled JavaScript. So inside `work`
 * `Error.captureStackTrace` leaves any target but an Error alone (cdktf then records no trace); errors keep theirs.
 */
export function withoutTokenTraces<T>(work: () => T): T {
  const capture = Error.captureStackTrace;
  Error.captureStackTrace = function errorsOnly(target: object, below?: Function) {
    if (target instanceof Error) capture(target, below ?? errorsOnly);
  };
  try {
    return work();
  } finally {
    Error.captureStackTrace = capture;
  }
}
