/** Synth helpers for the AppVolume / BuildJob / RunContainer / App / policy unit tests. */
import * as fs from 'fs';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { tempDir } from './temp';

export interface Synthesized {
  stack: TerraformStack;
  raw: string;
  json: any;
}

/** A stack with the docker provider, filled by `fill`, synthesized (aspects included). */
export function synthStack(fill: (stack: TerraformStack) => void): Synthesized {
  const stack = new TerraformStack(Testing.app(), 'test');
  new DockerProvider(stack, 'docker', {});
  fill(stack);
  const raw = Testing.synth(stack);
  return { stack, raw, json: JSON.parse(raw) };
}

/** The resources of one type, by their synthesized key. */
export function resourcesOf(json: any, type: string): Record<string, any> {
  return json.resource?.[type] ?? {};
}

/** The one resource of `type` whose key is `<prefix>_<8 hex>` (cdktf's key for the construct path). */
export function resource(json: any, type: string, prefix: string): any {
  const matches = Object.entries(resourcesOf(json, type)).filter(([key]) => new RegExp(`^${prefix}_[0-9A-F]{8}$`).test(key));
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} ${prefix}_*, found ${matches.map(([key]) => key).join(', ') || 'none'}`);
  }
  return matches[0][1];
}

export function resourceKey(json: any, type: string, prefix: string): string {
  const key = Object.keys(resourcesOf(json, type)).find((candidate) => new RegExp(`^${prefix}_[0-9A-F]{8}$`).test(candidate));
  if (!key) throw new Error(`no ${type} ${prefix}_*`);
  return key;
}

/** The local-exec provisioners of a resource (null_resource). */
export function localExecs(step: any): any[] {
  return (step.provisioner ?? []).map((provisioner: any) => provisioner['local-exec']);
}

/** A temporary app source folder with the given files (relative path → content). */
export function sourceFolder(files: Record<string, string> = { 'package.json': '{"name":"demo"}\n', 'index.js': 'console.log(1)\n' }): string {
  const dir = tempDir('modulus-source-');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** The annotations (level, message) on the constructs below `stack`. */
export function annotations(stack: TerraformStack): Array<{ path: string; level: string; message: string }> {
  return stack.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => ['@cdktf/info', '@cdktf/warn', '@cdktf/error'].includes(entry.type))
      .map((entry) => ({ path: construct.node.path, level: entry.type.replace('@cdktf/', ''), message: String(entry.data) })),
  );
}

/** The message of the Error `fn` throws (fails the test when it does not throw). */
export function errorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error, got none');
}
