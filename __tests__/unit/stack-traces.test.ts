import { withPlainStackTraces } from '../../lib/private/stack-traces';

describe('withPlainStackTraces', () => {
  const errors: { prepareStackTrace?: ErrorConstructor['prepareStackTrace'] } = Error;
  const installed = errors.prepareStackTrace;
  const hook = jest.fn((error: Error) => `hooked ${error.message}`);
  beforeEach(() => {
    hook.mockClear();
    errors.prepareStackTrace = hook;
  });
  afterAll(() => {
    errors.prepareStackTrace = installed;
  });

  it('formats the traces read inside it without the installed hook, and puts the hook back', () => {
    const stack = withPlainStackTraces(() => {
      const trace = { stack: '' };
      Error.captureStackTrace(trace);
      return trace.stack;
    });
    expect(stack).toMatch(/^Error.*\n\s+at /);
    expect(hook).not.toHaveBeenCalled();
    expect(errors.prepareStackTrace).toBe(hook);
  });

  it('returns what the work returns; an error thrown out of it keeps the hook and is formatted by it', () => {
    expect(withPlainStackTraces(() => 42)).toBe(42);
    let thrown: Error | undefined;
    try {
      withPlainStackTraces(() => {
        throw new Error('invalid');
      });
    } catch (error) {
      thrown = error as Error;
    }
    expect(errors.prepareStackTrace).toBe(hook);
    expect(thrown!.stack).toBe('hooked invalid');
  });

  it('runs the work as it is when no hook is installed', () => {
    errors.prepareStackTrace = undefined;
    expect(withPlainStackTraces(() => 'done')).toBe('done');
    expect(errors.prepareStackTrace).toBeUndefined();
  });
});
