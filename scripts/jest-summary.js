// Adds up jest --json reports into the closing line CI reads: "N passed, N failed". Before it, each failed test's
// name and the first lines of its message, so that a log cut short in the middle still says what failed.
const fs = require('fs');
const path = require('path');

const MESSAGE_LINES = 12;
let passed = 0;
let failed = 0;
const failures = [];
for (const file of fs.readdirSync(process.argv[2]).sort()) {
  const report = JSON.parse(fs.readFileSync(path.join(process.argv[2], file), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
  for (const suite of report.testResults) {
    const suitePath = path.relative(process.cwd(), suite.name);
    if (suite.status === 'failed' && suite.assertionResults.length === 0) {
      failures.push({ name: suitePath, message: suite.message });
    }
    for (const test of suite.assertionResults.filter((result) => result.status === 'failed')) {
      failures.push({ name: `${suitePath} › ${test.fullName}`, message: test.failureMessages.join('\n') });
    }
  }
}
if (failures.length > 0) {
  console.log('=== failed tests');
  for (const { name, message } of failures) {
    console.log(`✕ ${name}`);
    const lines = message.replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((line) => line.trim() !== '' && !line.includes('node_modules'));
    for (const line of lines.slice(0, MESSAGE_LINES)) console.log(`    ${line}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
