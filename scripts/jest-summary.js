// Adds up jest --json reports into the closing line CI reads: "N passed, N failed". Before it, each failed test's
// name and the lines of its message that say why (its first lines, every line naming an error, its last lines), so
// that a log cut short in the middle still says what failed and how. First, the slowest test files and tests, where
// the time of a run goes.
const fs = require('fs');
const path = require('path');

const FIRST_LINES = 3;
const SLOWEST = 20;
const ERROR_LINES = 25;
const LAST_LINES = 8;
let passed = 0;
let failed = 0;
const failures = [];
const durations = [];
for (const file of fs.readdirSync(process.argv[2]).filter((name) => name.endsWith('.json')).sort()) {
  const report = JSON.parse(fs.readFileSync(path.join(process.argv[2], file), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
  for (const suite of report.testResults) {
    const suitePath = path.relative(process.cwd(), suite.name);
    durations.push({ name: suitePath, seconds: (suite.endTime - suite.startTime) / 1000 });
    for (const test of suite.assertionResults) {
      if (test.duration) durations.push({ name: `  ${path.basename(suitePath)} › ${test.title}`, seconds: test.duration / 1000 });
    }
    if (suite.status === 'failed' && suite.assertionResults.length === 0) {
      failures.push({ name: suitePath, message: suite.message });
    }
    for (const test of suite.assertionResults.filter((result) => result.status === 'failed')) {
      failures.push({ name: `${suitePath} › ${test.fullName}`, message: test.failureMessages.join('\n') });
    }
  }
}
console.log(`=== the ${SLOWEST} slowest test files and tests`);
for (const { name, seconds } of durations.sort((a, b) => b.seconds - a.seconds).slice(0, SLOWEST)) {
  console.log(`${seconds.toFixed(0).padStart(6)} s  ${name.slice(0, 150)}`);
}
if (failures.length > 0) {
  console.log('=== failed tests');
  for (const { name, message } of failures) {
    console.log(`✕ ${name}`);
    const lines = message.replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((line) => line.trim() !== '' && !line.includes('node_modules'));
    const first = lines.slice(0, FIRST_LINES);
    const last = lines.slice(Math.max(FIRST_LINES, lines.length - LAST_LINES));
    const middle = lines.slice(FIRST_LINES, lines.length - last.length);
    const errors = middle.filter((line) => /error|fail|refus|denied|timed out/i.test(line)).slice(0, ERROR_LINES);
    for (const line of [...first, ...(errors.length < middle.length ? ['…', ...errors, '…'] : errors), ...last]) console.log(`    ${line}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
