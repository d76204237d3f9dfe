// A jest reporter for scripts/test-all.sh: keeps the file MODULUS_CURRENT_TEST naming the test file and test this
// jest run is in, and since when. A test blocked in a synchronous call (spawnSync, execFileSync) blocks jest's own
// timeouts and prints nothing; test-all's deadline reads this file to say where the run stopped moving.
const fs = require('fs');
const path = require('path');

const file = (test) => path.relative(process.cwd(), test.path);

class CurrentTestReporter {
  constructor() {
    this.file = process.env.MODULUS_CURRENT_TEST;
  }

  write(what) {
    if (this.file) fs.writeFileSync(this.file, `since ${new Date().toISOString()}: ${what}\n`);
  }

  onTestFileStart(test) {
    this.write(`${file(test)} (starting: its environment and first hooks)`);
  }

  onTestCaseStart(test, testCase) {
    this.write(`${file(test)} › ${testCase.fullName}`);
  }

  onTestCaseResult(test, testCase) {
    this.write(`${file(test)} after "${testCase.fullName}" (${testCase.status}): its next test or hooks`);
  }

  onTestFileResult(test) {
    this.write(`${file(test)} done: the next file`);
  }
}

module.exports = CurrentTestReporter;
