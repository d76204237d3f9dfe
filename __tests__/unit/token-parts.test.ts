import { DefaultTokenResolver, Fn, Lazy, StringConcat, TerraformStack, Testing, Token, Tokenization } from 'cdktf';
import { Resource } from '@cdktf/provider-null/lib/resource';
import { ModulusApp } from '../../lib/app';
import { ImageHierarchy } from '../../lib/image-hierarchy';
import { ModulusStack } from '../../lib/modulus-stack';
import { resolveTokens, withTokenPartsResolution } from '../../lib/private/token-parts';
import { sourceFolder } from './support/app-runtime';

const resolver = new DefaultTokenResolver(new StringConcat());

const source = sourceFolder();

/** Two stacks, the second referring to resources of the first (cross-stack references), and two apps. */
function twoStacks() {
  const app = Testing.app();
  const images = new ModulusStack(app, 'images');
  const hierarchy = new ImageHierarchy(images, 'Hierarchy', { rootImage: 'modulus/root:bookworm' });
  const apps = new ModulusStack(app, 'apps');
  for (const language of ['node', 'static']) {
    new ModulusApp(apps, `web-${language}`, { appName: `web-${language}`, language, source, images: hierarchy, run: { port: language === 'node' ? 18080 : 18081 } });
  }
  return { app, images, apps };
}

describe('resolveTokens', () => {
  const stack = new TerraformStack(Testing.app(), 'test');
  const step = new Resource(stack, 'step', { triggers: { a: 'b' } });
  const value = {
    literal: 'no token here, 1e5 and a ${var} kept as it is',
    reference: step.id,
    inText: `id ${step.id}, then text`,
    list: ['a', undefined, { nested: Fn.upper('x'), gone: undefined }],
    references: [step.id, 'b', undefined],
    listToken: Token.asList(Fn.split(',', 'a,b')),
    numberToken: Token.asNumber(Fn.lengthOf(step.triggers)),
    numberList: Token.asNumberList(Fn.split(',', '1,2')),
    map: Token.asStringMap(Lazy.anyValue({ produce: () => ({ key: step.id }) })),
    lazy: Lazy.stringValue({ produce: () => `made at resolve ${step.id}` }),
    deep: { deeper: { deepest: [1, true, null, 'x', { y: undefined }] } },
    gone: undefined,
  };

  it('gives what cdktf resolving the whole gives', () => {
    const expected = Tokenization.resolve(value, { scope: stack, resolver });
    expect(resolveTokens(stack, value)).toEqual(expected);
    expect(JSON.stringify(resolveTokens(stack, value))).toBe(JSON.stringify(expected));
    // The cases are real: tokens were resolved, undefined was dropped.
    expect(JSON.stringify(expected)).toContain('${null_resource.step.id}');
    expect(JSON.stringify(expected)).not.toContain('TfToken');
    expect((expected as { list: unknown[] }).list).toHaveLength(2);
    expect((expected as { references: unknown[] }).references).toHaveLength(2);
  });

  it('leaves parts without a token as they are, and reports a construct inside the configuration as cdktf does', () => {
    const plain = { a: ['x', 2, false], b: { c: 'd' } };
    expect(resolveTokens(stack, plain)).toEqual(plain);
    expect(() => resolveTokens(stack, { oops: step })).toThrow(/construct/i);
  });
});

describe('ModulusStack: resolving only the parts that hold tokens', () => {
  it('synthesizes the same JSON as cdktf resolving everything, cross-stack references included', () => {
    const { images, apps } = twoStacks();
    for (const stack of [images, apps]) stack.prepareStack();
    const ours = { images: images.toTerraform(), apps: apps.toTerraform() };
    // The same stacks, prepared and written by TerraformStack's own methods: the whole configuration resolved.
    const plain = twoStacks();
    for (const stack of [plain.images, plain.apps]) TerraformStack.prototype.prepareStack.call(stack);
    const theirs = { images: TerraformStack.prototype.toTerraform.call(plain.images), apps: TerraformStack.prototype.toTerraform.call(plain.apps) };
    expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
    expect(JSON.stringify(ours.apps)).toContain('cross-stack-reference-input-images');
    expect(Object.keys(ours.images.output).some((name) => name.startsWith('cross-stack-output-'))).toBe(true);
  });

  it('puts cdktf back afterwards, also when the work throws', () => {
    const stackTokens = require('cdktf/lib/_tokens') as { resolve: unknown };
    const original = stackTokens.resolve;
    expect(withTokenPartsResolution(() => stackTokens.resolve)).toBe(resolveTokens);
    expect(stackTokens.resolve).toBe(original);
    expect(() =>
      withTokenPartsResolution(() => {
        throw new Error('invalid');
      }),
    ).toThrow('invalid');
    expect(stackTokens.resolve).toBe(original);
  });
});
