import { Construct } from 'constructs';
import { ImageHierarchy, ImageHierarchyProps } from '../lib/image-hierarchy';
import { PushedHierarchy } from '../lib/image-registry';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { DEFAULT_REPOSITORY_PREFIX } from '../lib/standard-images';
import { RegistrySettings, registryOf } from './registry-settings';

export interface ImagesStackProps extends ModulusStackProps, ImageHierarchyProps {
  /**
   * Push every image to this registry, for run hosts that pull them by digest. The images are then named
   * `<address>/<repositoryPrefix><name>`.
   * @default none: the images stay on this stack's engine
   */
  readonly registry?: RegistrySettings;
}

/** The `images` stack: the standard image tree, built on the stack's engine (the build host), and pushed. */
export class ImagesStack extends ModulusStack {
  public readonly hierarchy: ImageHierarchy;
  /** The pushes, when the stack has a registry. */
  public readonly pushed?: PushedHierarchy;

  constructor(scope: Construct, id: string, props: ImagesStackProps = {}) {
    super(scope, id, props);
    const registry = props.registry ? registryOf(this, props.registry) : undefined;
    const repositoryPrefix = props.repositoryPrefix ?? DEFAULT_REPOSITORY_PREFIX;
    this.renamedChild('Hierarchy', 'hierarchy');
    this.hierarchy = new ImageHierarchy(this, 'Hierarchy', {
      ...props,
      repositoryPrefix: registry ? registry.repositoryPrefix(repositoryPrefix) : repositoryPrefix,
    });
    if (registry) {
      this.dockerProvider.registryAuth = [registry.registryAuth()];
      this.pushed = new PushedHierarchy(this, 'Pushed', { registry, hierarchy: this.hierarchy });
    }
  }
}
