/**
 * The one form of this package's validation errors, for stacks and constructs built on it:
 * `<construct path>: invalid <field> <value>: <what is allowed>` (`invalidProp`), or `invalid <name> <value>:
 * <what is allowed>` for a setting outside any construct (`invalidSetting`, e.g. an environment variable). A
 * `ValidationError` thrown out of a program with a ModulusStack is printed on one line under the cdktf CLI.
 */
export { invalid as invalidProp, invalidSetting, ValidationError } from './private/validation';
