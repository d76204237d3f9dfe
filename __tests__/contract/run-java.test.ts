/**
 * run-java on a real engine: the java sample compiled by build-java into a runnable app.jar runs on OpenJDK 17
 * under supervisord, with -Xms/-Xmx = 75 % of the container memory.
 */
import { buildImage } from './support/docker';
import { describeRunImage } from './support/run-contract';
import { appPid, buildSampleInto, cleanup, exec, runOnce, RunVolume } from './support/run';

jest.setTimeout(300_000);

describeRunImage({
  image: 'run-java',
  prepareApp: (appDir) => {
    buildSampleInto(buildImage('build-java'), 'java', appDir);
  },
  expectBody: /modulus sample java app on java 17\..*max heap \d+ MiB/,
  extraArgs: ['--memory', '512m', '--memory-swap', '512m'],
  crash: ['pkill', '-KILL', '-f', 'java .*-jar app\\.jar'],
  more: (context) => {
    test('heap is 75 % of the container memory: -Xms384m -Xmx384m under --memory 512m', () => {
      const cmdline = exec(context().container, ['sh', '-c', `tr '\\0' ' ' < /proc/${appPid(context().container)}/cmdline`]).stdout;
      expect(cmdline).toMatch(/^java .*-Xms384m -Xmx384m .*-jar app\.jar/);
      expect(cmdline).toContain('-XX:+ExitOnOutOfMemoryError');
    });
  },
});

describe('run-java start without a usable jar', () => {
  afterAll(() => cleanup());

  test('no jar: a clear error and non-zero exit; a WAR is refused with the reason', () => {
    const ref = buildImage('run-java');
    const empty = runOnce(ref, new RunVolume(), ['start']);
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toMatch(/no runnable jar .* in \/mnt\/app/);
    const withWar = new RunVolume();
    withWar.write('app/app.war', 'not really a war');
    const war = runOnce(ref, withWar, ['start']);
    expect(war.status).not.toBe(0);
    expect(war.stderr).toMatch(/found app\.war: run-java runs runnable jars only/);
  });

  test('heap flags follow the limit: none without one (JVM default), SERVO_SIZE=1000 -> 750m', () => {
    const ref = buildImage('run-java');
    const volume = new RunVolume();
    buildSampleInto(buildImage('build-java'), 'java', volume.path('app'));
    // start logs its java command line before exec; `timeout` ends the server after that.
    const unlimited = runOnce(ref, volume, ['timeout', '3', 'start']);
    expect(unlimited.stderr).toMatch(/^start: java .*-jar app\.jar$/m);
    expect(unlimited.stderr).not.toMatch(/-Xm[sx]/);
    const servo = runOnce(ref, volume, ['timeout', '3', 'start'], { env: { SERVO_SIZE: '1000' } });
    expect(servo.stderr).toMatch(/^start: java .*-Xms750m -Xmx750m.* -jar app\.jar$/m);
  });
});
