/**
 * Contract of images/build-static: the image contract; a site without a build script is copied through;
 * the static sample's `npm run build` output (dist/) is what gets published.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildImage } from './support/docker';
import { BuildVolume, outputOf, removeTempDirs, runBuild, SAMPLES } from './support/build';
import { imageContract } from './support/image-contract';

jest.setTimeout(1_800_000);

let image = '';

beforeAll(() => {
  image = buildImage('build-static');
});

afterAll(removeTempDirs);

describe('build-static', () => {
  imageContract(() => image, { commands: ['build'] });

  it('runs the static sample build script and publishes only dist/', () => {
    const volume = new BuildVolume(path.join(SAMPLES, 'static'));
    const result = runBuild(image, volume);
    expect(outputOf(result)).toContain('[50-static] publishing dist/');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('built 1 file(s) into dist/');
    expect(volume.list('output')).toEqual(['index.html']);
    const html = fs.readFileSync(volume.out('index.html'), 'utf8');
    expect(html).toMatch(/Built at \d{4}-\d\d-\d\dT/);
    expect(html).not.toContain('{{BUILT_AT}}');
    // The work copy under TMPDIR is gone, and the input is untouched.
    expect(fs.readdirSync(path.join(volume.dir, 'tmp')).filter((name) => name.startsWith('modulus-'))).toEqual([]);
    expect(fs.existsSync(path.join(volume.input, 'dist'))).toBe(false);
  });

  it('copies a site without a build script through', () => {
    const volume = new BuildVolume(undefined, { 'index.html': '<h1>hi</h1>\n', 'css/site.css': 'h1{}\n', 'package.json': '{"name":"plain","scripts":{"start":"x"}}\n' });
    const result = runBuild(image, volume);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no package.json with a build script: copying the input through');
    expect(volume.list('output')).toEqual(['css/site.css', 'index.html', 'package.json']);
  });

  it('installs dependencies for the build, publishes build/ or STATIC_DIR, and fails without an output folder', () => {
    const files = (script: string) => ({
      'package.json': JSON.stringify({ name: 'site', version: '1.0.0', scripts: { build: script }, devDependencies: { tool: 'file:./tool' } }),
      'tool/package.json': '{"name":"tool","version":"1.0.0","main":"index.js"}\n',
      'tool/index.js': "module.exports = () => '<p>made by tool</p>';\n",
    });
    const render = (dir: string) => `node -e "require('fs').mkdirSync('${dir}',{recursive:true});require('fs').writeFileSync('${dir}/index.html',require('tool')())"`;

    const build = new BuildVolume(undefined, files(render('build')));
    const built = runBuild(image, build);
    expect(outputOf(built)).toContain('npm install (with dev dependencies)');
    expect(built.status).toBe(0);
    expect(fs.readFileSync(build.out('index.html'), 'utf8')).toBe('<p>made by tool</p>');

    const custom = new BuildVolume(undefined, files(`${render('site/www')} && mkdir -p dist`));
    const published = runBuild(image, custom, { STATIC_DIR: 'site/www' });
    expect(published.status).toBe(0);
    expect(custom.list('output')).toEqual(['index.html']);

    const none = runBuild(image, new BuildVolume(undefined, files('echo nothing')));
    expect(none.status).not.toBe(0);
    expect(none.stdout).toContain('the build produced none of dist build public out next to package.json; set STATIC_DIR');
  });

  it('fetches the node engines.node asks for when the image node does not fit', () => {
    const volume = new BuildVolume(undefined, {
      'package.json': JSON.stringify({ name: 'site', version: '1.0.0', engines: { node: '20.x' }, scripts: { build: 'mkdir -p public && node -e "require(\'fs\').writeFileSync(\'public/version.txt\', process.version)"' } }),
    });
    const result = runBuild(image, volume);
    expect(outputOf(result)).toContain('engines.node 20.x excludes the image');
    expect(result.status).toBe(0);
    expect(fs.readFileSync(volume.out('version.txt'), 'utf8')).toMatch(/^v20\./);
  });
});
