/**
 * How the errors found while synthesizing (cross-construct conflicts, the ContainerSecurityPolicy) reach a user:
 * each is an error annotation in the one form of `validation.ts`, without a stack trace, and a ModulusStack with
 * any of them writes no stack. Under the cdktf CLI, the package's constructors record their invalid props the same
 * way (`reportsInvalidProps`), and a ValidationError thrown out of the program is printed after the errors
 * recorded before it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AnnotationMetadataEntryType, App, IStackSynthesizer, ISynthesisSession, Manifest, TerraformStack } from 'cdktf';
// The synthesizer every TerraformStack makes for itself; made here with continueOnErrorAnnotations set, so a stack
// with errors is checked after it is written, and removed (the cdktf class is public, its module not re-exported).
import { StackSynthesizer } from 'cdktf/lib/synthesize/synthesizer';
import { Construct, IConstruct } from 'constructs';
import { ValidationError } from './validation';

/** Records an error (`<path>: invalid …`) on a construct, without a stack trace: it fails the synth. */
export function addSynthError(scope: IConstruct, error: Error): void {
  scope.node.addMetadata(AnnotationMetadataEntryType.ERROR, error.message);
}

/** The messages of every error annotation in a construct's subtree, in tree order, each once. */
export function synthErrors(root: IConstruct): string[] {
  const messages = root.node
    .findAll()
    .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === AnnotationMetadataEntryType.ERROR))
    .map((entry) => String(entry.data));
  return [...new Set(messages)];
}

/** The synthesizer cdktf gives every stack, except that it writes a stack with error annotations (then checked). */
export function continuingSynthesizer(stack: TerraformStack): IStackSynthesizer {
  const hclOutput = process.env.SYNTH_HCL_OUTPUT === 'true' || process.env.SYNTH_HCL_OUTPUT === '1';
  return new StackSynthesizer(stack, true, hclOutput);
}

/**
 * Wraps a stack's synthesis (`inner`, writing even a stack with errors: `continuingSynthesizer`): the stack is
 * written as cdktf writes it, then, if it has error annotations, its cdk.tf.json (the new one, which replaced any
 * earlier one) and its manifest entry are removed. Run by the cdktf CLI
 * (which sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS), the errors go to stderr one line each and the process
 * exits non-zero, with no stack trace; run otherwise (`app.synth()` in a program or a test), it throws an Error
 * listing them, one a line.
 */
export function checkedSynthesizer(stack: TerraformStack, inner: IStackSynthesizer): IStackSynthesizer {
  return {
    synthesize(session: ISynthesisSession): void {
      inner.synthesize(session);
      const errors = synthErrors(stack);
      if (errors.length === 0) return;
      const stackName = stack.node.id;
      removeStackFiles(session.outdir, stackName);
      delete (session.manifest.stacks as Record<string, unknown>)[stackName];
      if (underCdktfCli()) {
        printErrors(errors);
        process.exitCode = 1;
        return;
      }
      throw new Error(`${stackName}: ${errors.length} error${errors.length === 1 ? '' : 's'}, no stack written:\n${errors.join('\n')}`);
    },
  };
}

/** Whether the cdktf CLI runs this program (it sets this variable, and shows the program's stderr itself). */
function underCdktfCli(): boolean {
  return process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS !== undefined;
}

/** The errors this program has printed (under the cdktf CLI): each is printed once. */
const printed = new Set<string>();

/** Prints the errors not printed yet to stderr, one a line. */
function printErrors(errors: Iterable<string>): void {
  const fresh = [...new Set(errors)].filter((error) => !printed.has(error));
  for (const error of fresh) printed.add(error);
  if (fresh.length > 0) process.stderr.write(`${fresh.join('\n')}\n`);
}

/**
 * Removes a stack's synthesized configuration from `outdir` (its cdk.tf.json or cdk.tf and metadata.json), not the
 * rest of its folder: that may hold a local state file and Terraform's .terraform.
 */
function removeStackFiles(outdir: string, stackName: string): void {
  for (const file of ['cdk.tf.json', 'cdk.tf', Manifest.stackMetadataPath]) {
    fs.rmSync(path.join(outdir, Manifest.stacksFolder, stackName, file), { force: true });
  }
}

/** How many constructs with `reportsInvalidProps` are being constructed now (one inside another's constructor). */
let constructing = 0;

/** The constructs whose constructor refused a prop (left in the tree, half-built, with their error recorded). */
const refused = new WeakSet<IConstruct>();

/** Whether `construct`'s constructor refused a prop: checks across constructs pass it by (its fields may be unset). */
export function refusedConstruct(construct: IConstruct): boolean {
  return refused.has(construct);
}

/**
 * A class decorator for this package's constructs: under the cdktf CLI, a ValidationError out of the constructor
 * (an invalid prop) does not end the program. The construct is left in the tree without children, the error is
 * recorded on it (printed with every other error when the stack is synthesized, and no stack is written), and the
 * program goes on to the next construct, so that one synth reports every invalid prop. Only the outermost such
 * construct records it (an app whose volume refuses a prop fails as a whole). Outside the CLI (a program or test
 * calling the constructors), the constructor throws.
 */
export function reportsInvalidProps<C extends new (...args: any[]) => Construct>(target: C, _context: ClassDecoratorContext<C>): C {
  const reporting = {
    [target.name]: class extends target {
      constructor(...args: any[]) {
        constructing++;
        try {
          super(...args);
        } catch (error) {
          const [scope, id] = args as [Construct, string];
          const failed = scope.node.tryFindChild(id);
          // Not an invalid prop, not under the CLI, inside another of ours (which reports it), or refused by Construct.
          if (!(error instanceof ValidationError) || !underCdktfCli() || constructing > 1 || failed === undefined) {
            throw error;
          }
          for (const child of [...failed.node.children]) failed.node.tryRemoveChild(child.node.id);
          addSynthError(failed, error);
          refused.add(failed);
          return failed as any;
        } finally {
          constructing--;
        }
      }
    },
  }[target.name];
  return reporting;
}

/** The ModulusStacks of this program, whose earlier output a thrown ValidationError removes. */
const programStacks = new Set<TerraformStack>();

/**
 * Under the cdktf CLI, a ValidationError thrown out of the program (by the program's own code, or by a constructor
 * not marked `reportsInvalidProps`: it ends the program before `app.synth()`) is reported as the errors found while synthesizing are: the errors recorded so
 * far in the apps of `stack` and the thrown one, each once, one line each, no stack trace, exit status 1, and no
 * stack left behind (every ModulusStack's earlier cdk.tf.json is removed, with its entry in manifest.json). Any
 * other exception keeps Node's own report, after the errors recorded before it. Outside the CLI (a program or test
 * calling the constructors), the exception is the caller's, as before.
 */
export function reportThrownValidationErrors(stack: TerraformStack): void {
  if (!underCdktfCli()) return;
  programStacks.add(stack);
  if (programStacks.size === 1) process.on('uncaughtException', onUncaughtException);
}

function onUncaughtException(error: unknown): void {
  const roots = new Set([...programStacks].map((stack) => stack.node.root));
  const recorded = [...roots].flatMap((root) => synthErrors(root));
  if (!(error instanceof ValidationError)) {
    // Not one of ours: the errors recorded before it (it may follow from one), then Node's report (message, stack
    // trace, exit status 1) as if this listener were not there.
    printErrors(recorded);
    process.off('uncaughtException', onUncaughtException);
    process.nextTick(() => {
      throw error;
    });
    return;
  }
  for (const stack of programStacks) {
    const outdir = App.of(stack).outdir;
    removeStackFiles(outdir, stack.node.id);
    const manifestFile = path.join(outdir, Manifest.fileName);
    if (fs.existsSync(manifestFile)) {
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      if (manifest.stacks && stack.node.id in manifest.stacks) {
        delete manifest.stacks[stack.node.id];
        fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
      }
    }
  }
  printErrors([...recorded, error.message]);
  process.exit(1);
}
