import { Construct } from 'constructs';
import { ImageHierarchy, ImageHierarchyProps } from '../lib/image-hierarchy';
import { ModulusStack, ModulusStackProps } from '../lib/modulus-stack';

export interface ImagesStackProps extends ModulusStackProps, ImageHierarchyProps {}

/** The `images` stack: the full standard image tree. */
export class ImagesStack extends ModulusStack {
  public readonly hierarchy: ImageHierarchy;

  constructor(scope: Construct, id: string, props: ImagesStackProps = {}) {
    super(scope, id, props);
    this.hierarchy = new ImageHierarchy(this, 'hierarchy', props);
  }
}
