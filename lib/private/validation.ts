/**
 * The one form of every validation error of this package:
 *
 *   <construct path>: invalid <field> <value>: <what is allowed>
 *
 * e.g. `apps/shop/Volume: invalid sizeMiB 10: use a whole number from 64 to 16777216`. Values that may be
 * secret are never shown (`HIDDEN`).
 */
import { Token } from 'cdktf';
import { IConstruct } from 'constructs';

/** Stands in for a value an error message must not show (e.g. a secret environment value). */
export const HIDDEN: unique symbol = Symbol('hidden value');

/**
 * An error in the one form: the message is the whole report (one line), its stack trace says nothing to a user.
 * Under the cdktf CLI, one thrown out of a program with a ModulusStack is printed so (see `synth-errors.ts`).
 */
export class ValidationError extends Error {}

/** A dotted-quad IPv4 address. */
export const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A validation error: `<path>: invalid <field> <value>: <allowed>`. */
export function invalid(scope: IConstruct, field: string, value: unknown, allowed: string): ValidationError {
  return new ValidationError(`${scope.node.path}: invalid ${field} ${showValue(value)}: ${allowed}`);
}

/** A value as error messages show it: strings in single quotes, numbers and booleans bare, the rest as JSON. */
export function showValue(value: unknown): string {
  if (value === HIDDEN) return '(value hidden)';
  if (typeof value === 'string') {
    if (Token.isUnresolved(value)) return '(a Terraform token)';
    return value.length > 120 ? `'${value.slice(0, 60)}...' (${value.length} characters)` : `'${value}'`;
  }
  if (typeof value === 'number' && Token.isUnresolved(value)) return '(a Terraform token)';
  if (value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return '(a function)';
  if (typeof value === 'object' && value !== null && 'node' in value) return `(construct ${(value as IConstruct).node.path})`;
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** Refuses a Terraform token where the value must be known at synth time. */
export function requireLiteral(scope: IConstruct, field: string, value: unknown): void {
  if (typeof value === 'string' ? Token.isUnresolved(value) : typeof value === 'number' && Token.isUnresolved(value)) {
    throw invalid(scope, field, value, 'give a literal known at synth time, not a Terraform token');
  }
}

/** A whole number in [min, max]. */
export function validateInteger(scope: IConstruct, field: string, value: number, min: number, max: number): number {
  requireLiteral(scope, field, value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(scope, field, value, `use a whole number from ${min} to ${max}`);
  }
  return value;
}

/** One of an enum's values (string enums: their values are what users of plain JavaScript pass). */
export function validateEnum<E extends string>(scope: IConstruct, field: string, value: E, choices: Record<string, E>, enumName: string): E {
  requireLiteral(scope, field, value);
  if (!Object.values(choices).includes(value)) {
    const names = Object.entries(choices).map(([name, choice]) => `${enumName}.${name} ('${choice}')`);
    throw invalid(scope, field, value, `use one of ${names.join(', ')}`);
  }
  return value;
}

/**
 * The same form for a setting outside any construct (an environment variable): `invalid <name> <value>: <allowed>`;
 * an unset one shows as `(not set)`.
 */
export function invalidSetting(name: string, value: unknown, allowed: string): ValidationError {
  return new ValidationError(`invalid ${name} ${value === undefined ? '(not set)' : showValue(value)}: ${allowed}`);
}
