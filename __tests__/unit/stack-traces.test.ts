import { captureStackTrace } from 'cdktf/lib/tokens/private/stack-trace';
import { withoutTokenTraces } from '../../lib/private/stack-traces';

describe('withoutTokenTraces', () => {
  const capture = Error.captureStackTrace;

  it("records no trace for cdktf's tokens inside it, and one outside it", () => {
    expect(withoutTokenTraces(() => captureStackTrace())).toEqual([]);
    expect(captureStackTrace().length).toBeGreaterThan(0);
  });

  it('collects no frames for them: a plain object gets no stack at all', () => {
    const traced = (target: object) => {
      Error.captureStackTrace(target);
      return 'stack' in target;
    };
    expect(withoutTokenTraces(() => traced({}))).toBe(false);
    expect(traced({})).toBe(true);
  });

  it('leaves the traces of errors made inside it, and those captured on an Error', () => {
    const made = withoutTokenTraces(() => new Error('made inside').stack);
    expect(made).toMatch(/^Error: made inside\n {4}at .*stack-traces\.test\.ts:\d+:\d+/);
    const captured = withoutTokenTraces(() => {
      const error = new Error('captured inside');
      error.stack = '';
      Error.captureStackTrace(error);
      return error.stack;
    });
    expect(captured).toMatch(/^Error: captured inside\n {4}at .*stack-traces\.test\.ts:\d+:\d+/);
  });

  it('returns what the work returns and puts Error.captureStackTrace back, also when the work throws', () => {
    expect(withoutTokenTraces(() => 42)).toBe(42);
    expect(Error.captureStackTrace).toBe(capture);
    expect(() =>
      withoutTokenTraces(() => {
        throw new Error('invalid');
      }),
    ).toThrow('invalid');
    expect(Error.captureStackTrace).toBe(capture);
  });
});
