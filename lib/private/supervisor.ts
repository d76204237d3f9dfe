import { hostRule } from './host-rules';

/**
 * Why a value cannot go into supervisor.conf's `environment=` unchanged, or undefined when it can. The volume
 * script renders the file (scripts/volume/config.sh, `render_config`) and refuses the same values
 * (`value_problem`) at apply time for values that are only known then; this check gives the error at synth for
 * literal values. __tests__/unit/rule-parity.test.ts runs one table of values through both.
 *
 * Supervisor 4 reads the line like this: its ini parser cuts it at whitespace (Python's str.isspace:
 * SUPERVISOR_SPACE_CODEPOINTS of rules.env) followed by `;` or `#` (inline comment), treats line breaks as
 * continuation lines and replaces the text `%(here)s` anywhere; then
 * `%`-expansion (so `%` is written `%%`); then a non-POSIX shlex split: no backslash escapes at all, a quoted
 * value ends at the next quote of its kind, and quote characters are stripped from both ends of each value.
 * So values are written in double quotes (single quotes when they contain a double quote).
 */
export function supervisorValueProblem(value: string): string | undefined {
  if (/[\r\n]/.test(value)) return 'contains a line break';
  if (commentStart().test(value)) return "contains whitespace followed by ';' or '#' (supervisor would cut it there as a comment)";
  if (value.includes('%(here)s')) return "contains '%(here)s' (supervisor substitutes it even when escaped)";
  if (value.includes('"') && value.includes("'")) return 'contains both single and double quotes';
  if (/^['"]|['"]$/.test(value)) return 'starts or ends with a quote character (supervisor strips those)';
  return undefined;
}

let comment: RegExp | undefined;

/** Whitespace as supervisor's parser (Python's str.isspace) counts it, then ';' or '#' (rules.env). */
function commentStart(): RegExp {
  if (comment === undefined) {
    const spaces = hostRule('SUPERVISOR_SPACE_CODEPOINTS').split(' ').map((hex) => `\\u{${hex}}`);
    comment = new RegExp(`[${spaces.join('')}][;#]`, 'u');
  }
  return comment;
}
