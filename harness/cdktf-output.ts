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
