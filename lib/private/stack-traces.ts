/**
 * Runs `work` with Node's own stack trace formatting in place of an `Error.prepareStackTrace` hook installed for the
 * whole process, such as the source-map-support that ts-node (and so `cdktf synth` of a TypeScript app) installs.
 *
 * cdktf records a stack trace of unlimited depth for every token it creates: each attribute reference, each of the
 * dozen nested-block objects a docker_container binding makes in its constructor, and more while it resolves a
 * stack. It formats the trace at once, and source-map-support maps every frame of it back to its source: half of a
 * 400-app synth's time (bench/scale.ts). Those traces only show in cdktf's message about a token it cannot resolve,
 * which then gives compiled JavaScript positions. V8 formats an error's `stack` when it is first read, so an error
 * thrown out of `work` still gets the hook.
 */
export function withPlainStackTraces<T>(work: () => T): T {
  // @types/node declares the hook as always set; it is unset unless something installed one.
  const errors: { prepareStackTrace?: ErrorConstructor['prepareStackTrace'] } = Error;
  const hook = errors.prepareStackTrace;
  if (hook === undefined) return work();
  errors.prepareStackTrace = undefined;
  try {
    return work();
  } finally {
    errors.prepareStackTrace = hook;
  }
}
