/**
 * A synthesized apps stack with run containers on several Docker hosts: one
 * kreuzwerker/docker provider per host (the default one un-aliased), each run container naming its provider.
 * Built with the real cdktf App and provider classes and synthesized to `<outdir>/stacks/apps/cdk.tf.json`.
 */
import { App, TerraformStack } from 'cdktf';
import * as path from 'path';
import { Container } from '@cdktf/provider-docker/lib/container';
import { DockerProvider, DockerProviderConfig } from '@cdktf/provider-docker/lib/provider';
import { runContainerName } from '../../../lib/run-container';

export interface CtlStackHost extends DockerProviderConfig {
  /** Apps whose run containers use this provider. */
  readonly apps: string[];
}

/** Synthesizes the apps stack to outdir and returns the cdk.tf.json path. Hosts without alias use the default provider. */
export function synthCtlStack(outdir: string, hosts: CtlStackHost[]): string {
  const app = new App({ outdir, skipValidation: true });
  const stack = new TerraformStack(app, 'apps');
  for (const { apps, ...config } of hosts) {
    const provider = new DockerProvider(stack, `Docker${config.alias ?? 'Default'}`, config);
    for (const name of apps) {
      new Container(stack, `Run-${name}`, {
        name: runContainerName(name),
        image: 'modulus/run-static:latest',
        // The default provider is implicit (no "provider" key), like the apps stack's single-host containers.
        ...(config.alias ? { provider } : {}),
      });
    }
  }
  app.synth();
  return path.join(outdir, 'stacks', 'apps', 'cdk.tf.json');
}
