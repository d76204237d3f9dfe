import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AssetType, Lazy, TerraformAsset, TerraformStack } from 'cdktf';
import { Construct, IConstruct } from 'constructs';

/** Staging folders of this process, removed when it exits (cdktf copies them while it synthesizes). */
const stagingFolders = new Set<string>();
process.once('exit', () => {
  for (const folder of stagingFolders) fs.rmSync(folder, { recursive: true, force: true });
});

const byStack = new WeakMap<TerraformStack, SourceArchives>();

/**
 * The path, relative to the stack's folder in cdktf.out, at which the stack's output holds `archive` (a source
 * archive named by its content hash `hash`). All of a stack's archives are one asset folder,
 * `assets/SourceArchives_Asset_<id>/<hash of the set>/<hash>.tar`: cdktf makes two new folders for each asset it
 * writes, and at 400 apps an asset per archive made synth wait on 800 of them, seconds on a busy disk
 * (bench/RESULTS.md).
 */
export function stackSourceArchive(scope: IConstruct, archive: string, hash: string): string {
  const stack = TerraformStack.of(scope);
  let archives = byStack.get(stack);
  if (!archives) byStack.set(stack, (archives = new SourceArchives(stack)));
  return archives.add(archive, hash);
}

/** One asset folder holding the source archives of a stack, staged as links to the archives (copies across disks). */
class SourceArchives extends Construct {
  private readonly staging: string;
  private readonly asset: TerraformAsset;
  private readonly hashes = new Set<string>();

  constructor(stack: TerraformStack) {
    super(stack, 'SourceArchives');
    this.staging = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-images-staging-'));
    stagingFolders.add(this.staging);
    this.asset = new TerraformAsset(this, 'Asset', { path: this.staging, type: AssetType.DIRECTORY, assetHash: this.setHash() });
  }

  public add(archive: string, hash: string): string {
    if (!this.hashes.has(hash)) {
      const staged = path.join(this.staging, `${hash}.tar`);
      try {
        fs.linkSync(archive, staged);
      } catch {
        fs.copyFileSync(archive, staged);
      }
      this.hashes.add(hash);
      this.asset.assetHash = this.setHash();
    }
    // The folder's name is the hash of the whole set, known once every build of the stack has added its archive.
    return Lazy.stringValue({ produce: () => path.posix.join(this.asset.path, `${hash}.tar`) });
  }

  private setHash(): string {
    return crypto.createHash('sha256').update([...this.hashes].sort().join('\n')).digest('hex').slice(0, 32).toUpperCase();
  }
}
