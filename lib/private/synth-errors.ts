/**
 * How the errors found while synthesizing (cross-construct conflicts, the ContainerSecurityPolicy) reach a user:
 * each is an error annotation in the one form of `validation.ts`, without a stack trace, and a ModulusStack with
 * any of them writes no stack.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AnnotationMetadataEntryType, IStackSynthesizer, ISynthesisSession, TerraformStack } from 'cdktf';
// The synthesizer every TerraformStack makes for itself; made here with continueOnErrorAnnotations set, so a stack
// with errors is checked after it is written, and removed (the cdktf class is public, its module not re-exported).
import { StackSynthesizer } from 'cdktf/lib/synthesize/synthesizer';
import { IConstruct } from 'constructs';

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
      // Only the synthesized configuration: the folder may hold a local state file and Terraform's .terraform.
      const written = session.manifest.forStack(stack);
      for (const file of [written.synthesizedStackPath, written.stackMetadataPath]) fs.rmSync(path.join(session.outdir, file), { force: true });
      delete (session.manifest.stacks as Record<string, unknown>)[stackName];
      if (process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS !== undefined) {
        process.stderr.write(`${errors.join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      throw new Error(`${stackName}: ${errors.length} error${errors.length === 1 ? '' : 's'}, no stack written:\n${errors.join('\n')}`);
    },
  };
}
