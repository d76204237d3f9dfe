/**
 * Seconds of the "Creation complete after ..." lines of the resources whose address matches `address`, from a
 * cdktf deploy's output. Lines start with the stack's name, or with spaces (cdktf indents the lines of a
 * resource's provisioners).
 */
export function creationSeconds(output: string, address: RegExp): number[] {
  return [...output.matchAll(/^\s*(?:\S+\s+)?([a-z_]+\.\S+)(?: \([^)]*\))?: Creation complete after (?:(\d+)m)?(\d+)s/gm)]
    .filter((match) => address.test(match[1]))
    .map((match) => Number(match[2] ?? 0) * 60 + Number(match[3]));
}

/**
 * The "Apply complete! Resources: ..." summaries of `stack`, from a cdktf deploy's output. cdktf starts a chunk of a
 * stack's output with the stack's name but not every line of it, so a summary line may come unprefixed: it belongs
 * to the stack that last prefixed a line.
 */
export function applySummaries(output: string, stack: string): string[] {
  const summaries: string[] = [];
  let current = '';
  for (const line of output.split('\n')) {
    const prefix = /^([A-Za-z0-9_-]+)\s/.exec(line);
    if (prefix) current = prefix[1];
    const summary = /Apply complete! Resources: .*$/.exec(line);
    if (summary && current === stack) summaries.push(summary[0].trim());
  }
  return summaries;
}
