import { Construct } from 'constructs';
import { ImageHierarchy, ImageHierarchyProps } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { DEFAULT_REPOSITORY_PREFIX } from '../lib/standard-images';
import { RegistrySettings, registryOf } from './registry-settings';

export interface ImagesStackProps extends ModulusStackProps, ImageHierarchyProps {
  /**
   * The registry the images go to, for run hosts that pull them by digest: they are named
   * `<address>/<repositoryPrefix><name>`, and the apps stack pushes those its hosts pull (AppsStackProps.registry).
   * The stack's provider keeps its credentials, for the pushes an earlier release recorded in this stack's state.
   * @default none: the images stay on this stack's engine
   */
  readonly registry?: RegistrySettings;
}

/** The `images` stack: the standard image tree, built on the stack's engine (the build host). */
export class ImagesStack extends ModulusStack {
  public readonly hierarchy: ImageHierarchy;

  constructor(scope: Construct, id: string, props: ImagesStackProps = {}) {
    super(scope, id, props);
    const registry = props.registry ? registryOf(this, props.registry) : undefined;
    const repositoryPrefix = props.repositoryPrefix ?? DEFAULT_REPOSITORY_PREFIX;
    this.renamedChild('Hierarchy', 'hierarchy');
    this.hierarchy = new ImageHierarchy(this, 'Hierarchy', {
      ...props,
      repositoryPrefix: registry ? registry.repositoryPrefix(repositoryPrefix) : repositoryPrefix,
    });
    // It pushes nothing, but the state of a deploy of an earlier release holds this stack's pushes: Terraform reads
    // them (from the registry) before it removes them (leaving what they pushed in the registry).
    if (registry) this.dockerProvider.registryAuth = [registry.registryAuth()];
  }
}
