import { captureStackTrace } from 'cdktf/lib/tokens/private/stack-trace';
import { withoutTokenTraces } from '../../lib/private/stack-traces';

describe('withoutTokenTraces', () => {
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

  it("records no trace for cdktf's tokens inside it, and one outside it", () => {
    errors.prepareStackTrace = undefined;
    expect(withoutTokenTraces(() => captureStackTrace())).toEqual([]);
    expect(captureStackTrace().length).toBeGreaterThan(0);
  });

  it('formats an error read inside it as Node does, without the installed hook, and puts the hook back', () => {
    const stack = withoutTokenTraces(() => new Error('read inside').stack);
    expect(stack).toMatch(/^Error: read inside\n {4}at .*stack-traces\.test\.ts:\d+:\d+/);
    expect(hook).not.toHaveBeenCalled();
    expect(errors.prepareStackTrace).toBe(hook);
  });

  it('returns what the work returns; an error thrown out of it keeps the hook and is formatted by it', () => {
    expect(withoutTokenTraces(() => 42)).toBe(42);
    let thrown: Error | undefined;
    try {
      withoutTokenTraces(() => {
        throw new Error('invalid');
      });
    } catch (error) {
      thrown = error as Error;
    }
    expect(errors.prepareStackTrace).toBe(hook);
    expect(thrown!.stack).toBe('hooked invalid');
  });

  it('leaves no hook behind when none was installed', () => {
    errors.prepareStackTrace = undefined;
    expect(withoutTokenTraces(() => 'done')).toBe('done');
    expect(errors.prepareStackTrace).toBeUndefined();
  });
});
