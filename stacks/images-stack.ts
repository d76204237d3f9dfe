import { Construct } from 'constructs';
import { ImageHierarchy, ImageHierarchyProps } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { DEFAULT_REPOSITORY_PREFIX } from '../lib/standard-images';
import { RegistrySettings, registryOf } from './registry-settings';

export interface ImagesStackProps extends ModulusStackProps, ImageHierarchyProps {
  /**
   * The registry the images go to, for run hosts that pull them by digest: they are named
   * `<address>/<repositoryPrefix><name>`, and the apps stack pushes those its hosts pull (AppsStackProps.registry).
   * @default none: the images stay on this stack's engine
   */
  readonly registry?: RegistrySettings;
}

/** The `images` stack: the standard image tree, built on the stack's engine (the build host). */
export class ImagesStack extends ModulusStack {
  public readonly hierarchy: ImageHierarchy;

  constructor(scope: Construct, id: string, props: ImagesStackProps = {}) {
    super(scope, id, props);
    // Only the name: this stack pushes nothing, so it needs no password.
    const registry = props.registry ? registryOf(this, { address: props.registry.address, protocol: props.registry.protocol }) : undefined;
    const repositoryPrefix = props.repositoryPrefix ?? DEFAULT_REPOSITORY_PREFIX;
    this.renamedChild('Hierarchy', 'hierarchy');
    this.hierarchy = new ImageHierarchy(this, 'Hierarchy', {
      ...props,
      repositoryPrefix: registry ? registry.repositoryPrefix(repositoryPrefix) : repositoryPrefix,
    });
  }
}
