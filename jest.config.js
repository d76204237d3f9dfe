/** Three suites: unit (no Docker), contract (images on a real engine), e2e (real Terraform deploys). */
const project = (name, extra = {}) => ({
  displayName: name,
  preset: 'ts-jest',
  testEnvironment: 'node',
  testMatch: [`<rootDir>/__tests__/${name}/**/*.test.ts`],
  modulePathIgnorePatterns: ['<rootDir>/cdktf.out/', '<rootDir>/dist/'],
  ...extra,
});

module.exports = {
  projects: [project('unit'), project('contract'), project('e2e')],
};
