// Adds up jest --json reports into the closing line CI reads: "N passed, N failed".
const fs = require('fs');
const path = require('path');

let passed = 0;
let failed = 0;
for (const file of fs.readdirSync(process.argv[2])) {
  const report = JSON.parse(fs.readFileSync(path.join(process.argv[2], file), 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
}
console.log(`${passed} passed, ${failed} failed`);
