/** Three suites: unit (no Docker), contract (images on a real engine), e2e (real Terraform deploys). */
const project = (name, extra = {}) => ({
  displayName: name,
  // Compiled file by file, without type checks (npm run lint type-checks everything): a fraction of the CPU.
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  testEnvironment: 'node',
  testMatch: [`<rootDir>/__tests__/${name}/**/*.test.ts`],
  modulePathIgnorePatterns: ['<rootDir>/cdktf.out/', '<rootDir>/dist/'],
  ...extra,
});

// The suites on the engine hold its lock while a file runs (harness/engine-lock.ts): test-all runs two at once.
const onTheEngine = { testEnvironment: '<rootDir>/harness/engine-lock-environment.ts' };

// cdktf's Testing helpers leave a folder per synth in os.tmpdir(): the unit suite gets one of its own, removed after.
const unitTmpdir = {
  globalSetup: '<rootDir>/harness/unit-tmpdir-setup.ts',
  globalTeardown: '<rootDir>/harness/unit-tmpdir-teardown.ts',
};

module.exports = {
  projects: [project('unit', unitTmpdir), project('contract', onTheEngine), project('e2e', onTheEngine)],
};
