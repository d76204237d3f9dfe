import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, TerraformStack } from 'cdktf';
import { AppVolume } from '../../lib/app-volume';
import { BuildJob } from '../../lib/build-job';
import { sourceFolder } from './support/app-runtime';
import { tempDir } from './support/temp';

/** Synthesizes one stack with a build per source into a new outdir; returns each build's MODULUS_SOURCE and the stack folder. */
function synthBuilds(sources: Record<string, string>) {
  const app = new App({ outdir: tempDir('modulus-source-assets-'), skipValidation: true });
  const stack = new TerraformStack(app, 'apps');
  for (const [name, source] of Object.entries(sources)) {
    const volume = new AppVolume(stack, `${name}-volume`, { appName: name, image: 'run-image' });
    new BuildJob(stack, `${name}-build`, { volume, image: 'build-image', language: 'node', source });
  }
  app.synth();
  const dir = path.join(app.outdir, 'stacks', 'apps');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.tf.json'), 'utf8'));
  const uploaded = Object.fromEntries(
    Object.entries(json.resource.null_resource as Record<string, any>)
      .filter(([key]) => /_Input_[0-9A-F]{8}$/.test(key))
      .map(([key, step]) => [key.replace(/-build_Input_[0-9A-F]{8}$/, ''), step.provisioner[0]['local-exec'].environment.MODULUS_SOURCE as string]),
  );
  return { dir, uploaded };
}

describe("a stack's source archives", () => {
  const shop = sourceFolder({ 'index.js': 'shop\n' });
  const blog = sourceFolder({ 'index.js': 'blog\n' });

  it('are one asset folder holding one archive per source, each build uploading its own', () => {
    const { dir, uploaded } = synthBuilds({ shop, blog, docs: blog });
    const folders = new Set(Object.values(uploaded).map((file) => path.posix.dirname(file)));
    expect([...folders]).toEqual([expect.stringMatching(/^assets\/SourceArchives_Asset_[0-9A-F]{8}\/[0-9A-F]{32}$/)]);
    expect(uploaded.docs).toBe(uploaded.blog);
    expect(uploaded.shop).not.toBe(uploaded.blog);
    expect(fs.readdirSync(path.join(dir, [...folders][0])).sort()).toEqual([path.basename(uploaded.blog), path.basename(uploaded.shop)].sort());
    // Each archive is its source: a tar of the folder.
    const listing = execFileSync('tar', ['-tf', path.join(dir, uploaded.shop)], { encoding: 'utf8' });
    expect(listing.split('\n')).toContain('index.js');
  });

  it('move to a folder of another name when a source changes, the others keeping their file names', () => {
    const before = synthBuilds({ shop, blog }).uploaded;
    fs.writeFileSync(path.join(shop, 'index.js'), 'shop, changed\n');
    const after = synthBuilds({ shop, blog }).uploaded;
    expect(path.posix.dirname(after.blog)).not.toBe(path.posix.dirname(before.blog));
    expect(path.posix.basename(after.blog)).toBe(path.posix.basename(before.blog));
    expect(path.posix.basename(after.shop)).not.toBe(path.posix.basename(before.shop));
  });
});
