import { ImageHierarchy } from './image-hierarchy';

/** The hierarchy as a Mermaid flowchart, root image at the top, drawn from the constructs themselves. */
export function hierarchyToMermaid(hierarchy: ImageHierarchy): string {
  const id = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart TD', `  root(["${hierarchy.rootImage} (root image)"])`];
  for (const image of hierarchy.images) {
    lines.push(`  ${id(image.node.id)}["${image.imageRef}"]`);
  }
  for (const image of hierarchy.images) {
    const parent = image.parentImage ? id(image.parentImage.node.id) : 'root';
    lines.push(`  ${parent} --> ${id(image.node.id)}`);
  }
  return lines.join('\n') + '\n';
}
