import { Construct } from 'constructs';
import { ImageHierarchy, ImageHierarchyProps } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';
import { renamedChild } from '../lib/private/moves';

export interface ImagesStackProps extends ModulusStackProps, ImageHierarchyProps {}

/** The `images` stack: the full standard image tree. */
export class ImagesStack extends ModulusStack {
  public readonly hierarchy: ImageHierarchy;

  constructor(scope: Construct, id: string, props: ImagesStackProps = {}) {
    super(scope, id, props);
    renamedChild(this, 'Hierarchy', 'hierarchy');
    this.hierarchy = new ImageHierarchy(this, 'Hierarchy', props);
  }
}
