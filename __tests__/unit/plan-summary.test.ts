import { classify, combineSummaries, summarizePlan, TerraformPlan, volumeLosses } from '../../scripts/plan-summary';

const volume = (address: string, actions: string[]) => ({
  address,
  type: 'null_resource',
  change: { actions, before: { triggers: { modulus_volume: 'node' } }, after: null },
});
const image = (address: string, actions: string[]) => ({
  address,
  type: 'docker_image',
  change: { actions, before: null, after: { name: address } },
});

describe('summarizePlan', () => {
  it('classifies Terraform action lists', () => {
    expect(classify(['create'])).toBe('create');
    expect(classify(['delete', 'create'])).toBe('replace');
    expect(classify(['create', 'delete'])).toBe('replace');
    expect(classify(['update'])).toBe('update');
    expect(classify(['delete'])).toBe('destroy');
    expect(classify(['no-op'])).toBeUndefined();
    expect(classify(['read'])).toBeUndefined();
  });

  it('counts each action in a table', () => {
    const plan: TerraformPlan = {
      resource_changes: [
        image('docker_image.a', ['create']),
        image('docker_image.b', ['create']),
        image('docker_image.c', ['delete', 'create']),
        image('docker_image.d', ['update']),
        image('docker_image.e', ['no-op']),
      ],
    };
    const summary = summarizePlan('images', plan);
    expect(summary).toContain('## Plan for stack `images`');
    expect(summary).toContain('| create | 2 |\n| update | 1 |\n| replace | 1 |\n| destroy | 0 |');
    expect(summary).toContain('- `docker_image.c`');
    expect(summary).not.toContain('docker_image.e');
    expect(summary).not.toContain('Data-destroying');
  });

  it('flags a replaced or destroyed volume as data-destroying at the top', () => {
    const summary = summarizePlan('apps', {
      resource_changes: [
        image('docker_image.a', ['create']),
        volume('null_resource.node_volume', ['delete', 'create']),
        volume('null_resource.php_volume', ['delete']),
        volume('null_resource.new_volume', ['create']),
      ],
    });
    const lines = summary.split('\n');
    expect(lines[2]).toBe('> [!CAUTION]');
    expect(lines[3]).toContain('replaces or destroys 2 app volume(s)');
    expect(summary).toContain('> - `null_resource.node_volume` (replace)');
    expect(summary).toContain('> - `null_resource.php_volume` (destroy)');
    expect(summary).not.toContain('> - `null_resource.new_volume`');
  });

  it('does not flag other null_resource resources', () => {
    const summary = summarizePlan('apps', {
      resource_changes: [{ address: 'null_resource.x', type: 'null_resource', change: { actions: ['delete'], before: { triggers: { a: '1' } } } }],
    });
    expect(summary).not.toContain('Data-destroying');
    expect(summary).toContain('| destroy | 1 |');
  });

  it("does not flag the previous release's terraform_data volume steps, which an upgrade drops without running their destroy", () => {
    const summary = summarizePlan('apps', {
      resource_changes: [
        {
          address: 'terraform_data.node_volume',
          type: 'terraform_data',
          change: { actions: ['delete'], before: { triggers_replace: { modulus_volume: 'node' } } },
        },
      ],
    });
    expect(summary).not.toContain('Data-destroying');
    expect(summary).toContain('| destroy | 1 |');
  });

  it('says so when nothing changes', () => {
    expect(summarizePlan('images', { resource_changes: [image('docker_image.a', ['no-op'])] })).toContain('No changes');
  });

  it('puts a data-destroying warning above all stacks when any stack loses volumes', () => {
    const apps = { resource_changes: [volume('null_resource.node_volume', ['delete', 'create'])] };
    const images = { resource_changes: [image('docker_image.a', ['create'])] };
    expect(volumeLosses(apps)).toHaveLength(1);
    expect(volumeLosses(images)).toHaveLength(0);
    const combined = combineSummaries([
      { stack: 'images', markdown: summarizePlan('images', images), volumeLosses: 0 },
      { stack: 'apps', markdown: summarizePlan('apps', apps), volumeLosses: 1 },
    ]);
    expect(combined.startsWith('> [!CAUTION]\n> **Data-destroying:** stack `apps` replaces or destroys 1 app volume(s).\n')).toBe(true);
    expect(combined.indexOf('## Plan for stack `images`')).toBeLessThan(combined.indexOf('## Plan for stack `apps`'));
    const quiet = combineSummaries([{ stack: 'images', markdown: summarizePlan('images', images), volumeLosses: 0 }]);
    expect(quiet.startsWith('## Plan for stack `images`')).toBe(true);
  });
});
