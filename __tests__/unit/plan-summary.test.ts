import * as fs from 'fs';
import * as path from 'path';
import {
  classify,
  combineSummaries,
  GITHUB_COMMENT_LIMIT,
  PLAN_COMMENT_MARKER,
  planComment,
  replacedImages,
  summarizePlan,
  TerraformPlan,
  volumeLosses,
} from '../../scripts/plan-summary';
import { REPO_ROOT } from '../../harness/checkout';

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

describe('summarizePlan: releases', () => {
  const publish = (app: string, before: string, after: string | null) => ({
    address: `null_resource.${app}_Build_Publish_1A2B3C4D`,
    type: 'null_resource',
    change: { actions: ['delete', 'create'], before: { triggers: { volume: 'v', build: before } }, after: { triggers: after === null ? null : { volume: 'v', build: after } } },
  });

  it('names each app whose build changes, the release that serves and the one that replaces it', () => {
    const summary = summarizePlan('apps', {
      resource_changes: [
        publish('sample-node', 'aaaaaaaaaaaa1111', null),
        publish('shop', 'bbbbbbbbbbbb2222', 'cccccccccccc3333'),
        { address: 'null_resource.shop_Build_Input_1A2B3C4D', type: 'null_resource', change: { actions: ['delete', 'create'], before: { triggers: { build: 'x' } }, after: null } },
        { ...publish('idle', 'dddddddddddd', 'dddddddddddd'), change: { ...publish('idle', 'd', 'd').change, actions: ['no-op'] } },
      ],
    });
    expect(summary).toContain(
      [
        'Releases (behind a router a release starts beside the one that serves and takes over once healthy; without one the app restarts in place):',
        '',
        '- `sample-node`: a new build (its id known after apply) replaces release `aaaaaaaaaaaa`, which serves now',
        '- `shop`: release `cccccccccccc` replaces release `bbbbbbbbbbbb`, which serves now',
        '',
      ].join('\n'),
    );
    expect(summary).not.toContain('idle');
    expect(summarizePlan('apps', { resource_changes: [] })).not.toContain('Releases');
  });

  it('names the source each new release is built from (SHA-256, as the plan has it while the build id is unknown)', () => {
    const rollback = publish('shop', 'bbbbbbbbbbbb2222', null);
    rollback.change.after = { triggers: { volume: 'v', source_sha256: 'f00d'.repeat(16) } } as any;
    expect(summarizePlan('apps', { resource_changes: [rollback] })).toContain(
      '- `shop`: a new build (its id known after apply) of source `f00df00df00d` replaces release `bbbbbbbbbbbb`, which serves now',
    );
  });

  it("names each instance of a replicated app the release reaches, after the app's first", () => {
    const onB = publish('web', 'eeeeeeeeeeee5555', null);
    const summary = summarizePlan('apps', {
      resource_changes: [{ ...onB, address: 'null_resource.web_instance-b_Publish_5E6F7A8B' }, publish('web', 'eeeeeeeeeeee5555', null)],
    });
    expect(summary).toContain(
      [
        '- `web`: a new build (its id known after apply) replaces release `eeeeeeeeeeee`, which serves now',
        '- `web` (its instance on host `b`, delivered from the first): a new build (its id known after apply) replaces release `eeeeeeeeeeee`, which serves now',
      ].join('\n'),
    );
  });
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

describe('containers that run a replaced image', () => {
  const images: TerraformPlan = {
    resource_changes: [
      { address: 'docker_image.leaf', type: 'docker_image', change: { actions: ['delete', 'create'], before: { image_id: 'sha256:old-leaf' }, after: {} } },
      { address: 'docker_image.base', type: 'docker_image', change: { actions: ['no-op'], before: { image_id: 'sha256:base' }, after: {} } },
    ],
  };
  const container = (address: string, image: string, actions = ['no-op']) => ({
    address,
    type: 'docker_container',
    change: { actions, before: { image }, after: { image } },
  });

  it('finds the images a plan replaces, by their current id', () => {
    expect(replacedImages('images', images)).toEqual([{ stack: 'images', address: 'docker_image.leaf', imageId: 'sha256:old-leaf' }]);
  });

  it('counts the containers running them as replaced, and only those', () => {
    const apps: TerraformPlan = {
      resource_changes: [container('docker_container.leaf', 'sha256:old-leaf'), container('docker_container.base', 'sha256:base')],
    };
    const summary = summarizePlan('apps', apps, replacedImages('images', images));
    expect(summary).toContain('| create | 0 |\n| update | 0 |\n| replace | 1 |\n| destroy | 0 |');
    expect(summary).toContain('- `docker_container.leaf` (runs `docker_image.leaf`, which stack `images` replaces: replaced when that is applied)');
    expect(summary).not.toContain('docker_container.base');
    expect(summarizePlan('apps', apps)).toContain('No changes');
  });
});

describe('planComment', () => {
  const summary = combineSummaries([
    { stack: 'images', markdown: summarizePlan('images', { resource_changes: [image('docker_image.a', ['create'])] }), volumeLosses: 0 },
  ]);

  it('keeps the summary table on top and folds the full plan text below it', () => {
    const comment = planComment(summary, [{ stack: 'images', text: 'Terraform will perform the following actions:\n  # docker_image.a will be created\n' }]);
    expect(comment.startsWith(`${PLAN_COMMENT_MARKER}\n## Plan for stack \`images\``)).toBe(true);
    expect(comment.indexOf('| action | count |')).toBeLessThan(comment.indexOf('<details><summary>Full plan output</summary>'));
    expect(comment).toContain(
      '```text\n### images\n\nTerraform will perform the following actions:\n  # docker_image.a will be created\n\n```\n\n</details>\n',
    );
    expect(comment).not.toContain('Truncated');
  });

  it('cuts a plan too long for a GitHub comment at a line end, within the limit, and says so', () => {
    const text = Array.from({ length: 5000 }, (_, n) => `  # docker_image.image_${n} will be replaced\n`).join('');
    const comment = planComment(summary, [{ stack: 'images', text }]);
    expect(text.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT);
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 200);
    expect(comment).toContain('<details><summary>Full plan output (truncated)</summary>');
    expect(comment).toMatch(/> Truncated to fit GitHub's comment limit of 65536 characters: the first \d+ of \d+ characters of the plan output are shown\./);
    expect(comment).toMatch(/will be replaced\n```\n\n<\/details>\n$/);
    expect(comment.indexOf('| action | count |')).toBeLessThan(comment.indexOf('Truncated'));
    expect(planComment(summary, [{ stack: 'images', text }], 1_000_000)).not.toContain('Truncated');
  });

  it('keeps a fence in the plan text from closing the code block', () => {
    expect(planComment(summary, [{ stack: 'images', text: 'a ``` b' }])).toContain("a ''' b");
  });

  it('is what the pull-request workflow posts, found again by the same marker', () => {
    const workflow = fs.readFileSync(path.join(REPO_ROOT, '.github/workflows/plan.yml'), 'utf8');
    expect(workflow).toContain(`const marker = '${PLAN_COMMENT_MARKER}';`);
    expect(workflow).toContain("fs.readFileSync('plan/comment.md', 'utf8')");
    expect(workflow).toContain('run: npm run plan');
  });
});
