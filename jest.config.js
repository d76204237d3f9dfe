/** Three suites: unit (no Docker), contract (images on a real engine), e2e (real Terraform deploys). */
const project = (name, extra = {}) => ({
  displayName: name,
  preset: 'ts-jest',
  testEnvironment: 'node',
  testMatch: [`<rootDir>/__tests__/${name}/**/*.test.ts`],
  modulePathIgnorePatterns: ['<rootDir>/cdktf.out/', '<rootDir>/dist/'],
  ...extra,
});

// The suites on the engine hold its lock while a file runs (harness/engine-lock.ts): test-all runs two at once.
const onTheEngine = { testEnvironment: '<rootDir>/harness/engine-lock-environment.ts' };

module.exports = {
  projects: [project('unit'), project('contract', onTheEngine), project('e2e', onTheEngine)],
};
