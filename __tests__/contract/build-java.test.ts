/**
 * Contract of images/build-java: the image contract; the java sample (plain sources) compiles into a runnable
 * app.jar that serves HTTP; prebuilt jars and wars are copied through; Maven without reachable repositories
 * fails with the documented explanation.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildImage } from './support/docker';
import { BuildVolume, outputOf, removeTempDirs, runBuild, runIn, SAMPLES } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';

beforeAll(() => {
  image = buildImage('build-java');
});

afterAll(removeTempDirs);

/** Runs a shell script in the image with `dir` mounted read-only on /mnt/app and host networking. */
function inApp(dir: string, script: string) {
  return runIn(image, ['bash', '-c', script], { network: 'host', volume: new BuildVolume().dir, mounts: [`${dir}:/mnt/app:ro`] });
}

describe('build-java', () => {
  imageContract(() => image, { commands: ['build'] });

  let sample: BuildVolume;

  it('compiles the java sample into a runnable app.jar (Main-Class detected) that answers HTTP on PORT', () => {
    sample = new BuildVolume(path.join(SAMPLES, 'java'));
    const result = runBuild(image, sample);
    expect(outputOf(result)).toContain('[50-java] Main-Class: sample.Main');
    expect(result.status).toBe(0);
    const run = inApp(
      sample.output,
      [
        'unzip -p /mnt/app/app.jar META-INF/MANIFEST.MF',
        'cd /mnt/app && PORT=18741 java -XX:-UsePerfData -jar app.jar &',
        'for i in $(seq 100); do curl -fsS http://127.0.0.1:18741/ && break; sleep 0.2; done',
      ].join('\n'),
    );
    expect(run.stdout).toContain('Main-Class: sample.Main');
    expect(run.stdout).toContain('modulus sample java app on java 17');
  });

  it('puts lib/*.jar on the classpath and the manifest Class-Path; MAIN_CLASS picks among several mains', () => {
    // A library jar built from the sample, then an app with two mains that uses it.
    const libVolume = new BuildVolume(undefined, { 'greeting/Greeting.java': 'package greeting; public class Greeting { public static String text() { return "hello from lib"; } public static void main(String[] a) {} }' });
    expect(runBuild(image, libVolume).status).toBe(0);
    const volume = new BuildVolume(undefined, {
      'src/app/Tool.java': 'package app; public class Tool { public static void main(String[] a) { System.out.println("tool"); } }',
      'src/app/Server.java': 'package app; public class Server { public static void main(String[] a) { System.out.println(greeting.Greeting.text()); } }',
    });
    fs.mkdirSync(path.join(volume.input, 'lib'));
    fs.copyFileSync(libVolume.out('app.jar'), path.join(volume.input, 'lib', 'greeting.jar'));
    fs.chownSync(path.join(volume.input, 'lib'), 441, 444);
    fs.chownSync(path.join(volume.input, 'lib', 'greeting.jar'), 441, 444);

    const ambiguous = runBuild(image, volume);
    expect(ambiguous.status).not.toBe(0);
    expect(ambiguous.stdout).toContain('several classes with a main method (app.Server app.Tool); set MAIN_CLASS');

    const result = runBuild(image, volume, { MAIN_CLASS: 'app.Server' });
    expect(result.status).toBe(0);
    const run = inApp(volume.output, 'unzip -p /mnt/app/app.jar META-INF/MANIFEST.MF; cd /mnt/app && java -XX:-UsePerfData -jar app.jar');
    expect(run.stdout).toContain('Class-Path: lib/greeting.jar');
    expect(run.stdout).toContain('hello from lib');
  });

  it('copies a prebuilt jar or war through unchanged', () => {
    const volume = new BuildVolume(undefined, { 'README.txt': 'prebuilt\n' });
    fs.copyFileSync(sample.out('app.jar'), path.join(volume.input, 'service.jar'));
    fs.writeFileSync(path.join(volume.input, 'site.war'), fs.readFileSync(sample.out('app.jar')));
    fs.chownSync(path.join(volume.input, 'service.jar'), 441, 444);
    fs.chownSync(path.join(volume.input, 'site.war'), 441, 444);
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('prebuilt jar/war found: copying the input through');
    expect(volume.list('output')).toEqual(['README.txt', 'service.jar', 'site.war']);
    expect(fs.readFileSync(volume.out('service.jar'))).toEqual(fs.readFileSync(sample.out('app.jar')));
  });

  it('builds a pom.xml with Maven, and explains the failure when no repository is reachable', () => {
    // This machine reaches no Maven repository and the volume's ~/.m2 is empty: Maven cannot get its
    // plugins, which is exactly the documented offline limit.
    const volume = new BuildVolume(undefined, {
      'pom.xml':
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>sample</groupId>' +
        '<artifactId>app</artifactId><version>1</version><properties><maven.compiler.release>17</maven.compiler.release></properties></project>\n',
      'src/main/java/sample/Main.java': 'package sample; public class Main { public static void main(String[] a) {} }',
    });
    const result = runBuild(image, volume, { MAVEN_OFFLINE: 'true' });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toContain('[50-java] mvn -B --no-transfer-progress -Dstyle.color=never -o -DskipTests package');
    expect(result.stdout).toContain('Maven could not get plugins or dependencies');
    expect(result.stdout).toContain('ERROR: mvn package failed');
    expect(volume.list('output')).toEqual([]);
  });
});
