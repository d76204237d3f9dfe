import { DefaultTokenResolver, StringConcat, Token, Tokenization } from 'cdktf';
import { Construct } from 'constructs';

const RESOLVER = new DefaultTokenResolver(new StringConcat());
/** cdktf's string, list and map token markers (`${TfToken[`, `#{TfToken[`, `&{TfToken[`) all hold this. */
const TOKEN_MARKER = 'TfToken[';
/** A superset of what cdktf reads as a number token inside a string (its NUMBER_TOKEN_REGEX). */
const NUMBER_IN_STRING = /[-|\d.+]e[-|\d.eE+]/;
/** cdktf's own limit before it reports a circular reference. */
const MAX_DEPTH = 200;

/**
 * The module through which TerraformStack resolves its elements (prepareStack, toTerraform): required, not
 * imported, as its export is replaced for a while (an import would give a copy of it).
 */
const stackTokens = require('cdktf/lib/_tokens') as { resolve: (scope: Construct, value: unknown, preparing?: boolean) => unknown };

/**
 * Runs `work` (TerraformStack's prepareStack or toTerraform) with the stack's resolves going through
 * resolveTokens. cdktf resolves each element's configuration in full, every literal string and key included, and
 * toTerraform then the merged whole once more; at 400 apps that was half of toTerraform's time (bench/scale.ts). The
 * result is the same (a unit test compares the two).
 */
export function withTokenPartsResolution<T>(work: () => T): T {
  const resolve = stackTokens.resolve;
  stackTokens.resolve = resolveTokens;
  try {
    return work();
  } finally {
    stackTokens.resolve = resolve;
  }
}

/**
 * `Tokenization.resolve(value)` in `scope`, with the parts that hold no token copied instead of resolved: the
 * same result (undefined dropped from lists and objects, as cdktf does). A part with a token is resolved by cdktf
 * as it would see it: a list holding a list token as a whole, an object with a token key or a resolvable as a
 * whole. A construct or a cycle goes to cdktf too, which reports it.
 */
export function resolveTokens(scope: Construct, value: unknown, preparing = false, depth = 0): unknown {
  if (value === undefined || value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return stringMayHoldToken(value) ? resolvePart(scope, value, preparing) : value;
  if (typeof value === 'number') return Token.isUnresolved(value) || Token.isUnresolved([value]) ? resolvePart(scope, value, preparing) : value;
  if (depth > MAX_DEPTH || typeof value !== 'object' || value instanceof Date) return resolvePart(scope, value, preparing);
  if (Array.isArray(value)) {
    if (value.some(isListTokenElement)) return resolvePart(scope, value, preparing);
    return value.map((item) => resolveTokens(scope, item, preparing, depth + 1)).filter((item) => item !== undefined);
  }
  if (Tokenization.isResolvable(value) || Construct.isConstruct(value) || Object.keys(value).some(stringMayHoldToken)) {
    return resolvePart(scope, value, preparing);
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const resolved = resolveTokens(scope, item, preparing, depth + 1);
    if (resolved !== undefined) result[key] = resolved;
  }
  return result;
}

function resolvePart(scope: Construct, part: unknown, preparing: boolean): unknown {
  return Tokenization.resolve(part, { scope, preparing, resolver: RESOLVER });
}

/** An element that makes cdktf resolve its list as a whole (a string or number list token, or any token). */
function isListTokenElement(item: unknown): boolean {
  return (typeof item === 'string' && stringMayHoldToken(item)) || (typeof item === 'number' && Token.isUnresolved([item]));
}

function stringMayHoldToken(text: string): boolean {
  return text.includes(TOKEN_MARKER) || NUMBER_IN_STRING.test(text);
}
