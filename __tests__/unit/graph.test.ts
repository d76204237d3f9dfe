import * as fs from 'fs';
import * as path from 'path';
import { README_END, README_START, renderHierarchyDiagram } from '../../scripts/graph';
import { REPO_ROOT } from '../../harness/checkout';

describe('the hierarchy diagram', () => {
  const diagram = renderHierarchyDiagram();

  it('in docs/hierarchy.md matches the constructs (run `npm run graph` after changing the tree)', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'hierarchy.md'), 'utf8')).toContain(diagram);
  });

  it('is embedded in README.md', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(README_START + diagram + README_END);
  });
});
