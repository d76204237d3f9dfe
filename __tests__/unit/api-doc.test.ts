import * as fs from 'fs';
import { API_DOC, renderApi } from '../../scripts/api-doc';

jest.setTimeout(60_000);

describe('docs/API.md', () => {
  const rendered = renderApi();

  it('is what the code gives (run `npm run api-doc` after a change of the public API)', () => {
    expect(fs.readFileSync(API_DOC, 'utf8')).toBe(rendered);
  });

  it('documents every export of the entry, with props, defaults and enum values', () => {
    for (const heading of ['## ModulusApp\n', '## ModulusAppProps\n', '## RunContainerOptions\n', '## VolumeRemovalPolicy\n', '## STANDARD_IMAGES\n']) {
      expect(rendered).toContain(heading);
    }
    expect(rendered).toMatch(/\| `processLimit\?` \| `number \\\| undefined` \| .* Default: 512\. \|/);
    expect(rendered).toContain("| `RETAIN` | `\"retain\"` |");
    expect(rendered).not.toMatch(/`_\w+/);
  });
});
