/**
 * The API reference, docs/API.md, generated from the package entry (lib/index.ts) with the TypeScript compiler:
 * every export with its doc comment; props and fields with their types and `@default`s; constructors and public
 * methods with their signatures. Members marked `@internal` or starting with `_` are left out, as in the shipped
 * typings.
 *
 *   npx ts-node scripts/api-doc.ts          writes docs/API.md
 *   npx ts-node scripts/api-doc.ts --check  fails when docs/API.md is not what the code gives (the unit suite runs it)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
export const API_DOC = path.join(ROOT, 'docs', 'API.md');

function docOf(checker: ts.TypeChecker, symbol: ts.Symbol): { text: string; tags: Map<string, string> } {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = new Map(symbol.getJsDocTags(checker).map((tag) => [tag.name, ts.displayPartsToString(tag.text ?? []).trim()] as [string, string]));
  return { text, tags };
}

const isHidden = (checker: ts.TypeChecker, symbol: ts.Symbol) =>
  symbol.getName().startsWith('_') || docOf(checker, symbol).tags.has('internal') ||
  (symbol.valueDeclaration !== undefined && ts.getCombinedModifierFlags(symbol.valueDeclaration as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

function memberRows(checker: ts.TypeChecker, symbols: ts.Symbol[], site: ts.Node): string[] {
  const rows = symbols
    .filter((member) => !isHidden(checker, member) && member.flags & (ts.SymbolFlags.Property | ts.SymbolFlags.GetAccessor))
    .map((member) => {
      const { text, tags } = docOf(checker, member);
      const type = checker.typeToString(checker.getTypeOfSymbolAtLocation(member, site), undefined, ts.TypeFormatFlags.NoTruncation);
      const optional = member.flags & ts.SymbolFlags.Optional ? '?' : '';
      const fallback = tags.has('default') ? ` Default: ${tags.get('default')}.` : '';
      return `| \`${member.getName()}${optional}\` | \`${oneLine(type)}\` | ${oneLine(text)}${oneLine(fallback)} |`;
    });
  return rows.length > 0 ? ['| name | type | description |', '| --- | --- | --- |', ...rows] : [];
}

function signatureLines(checker: ts.TypeChecker, name: string, signatures: readonly ts.Signature[]): string[] {
  return signatures.map((signature) => `- \`${name}${oneLine(checker.signatureToString(signature, undefined, ts.TypeFormatFlags.NoTruncation))}\``);
}

export function renderApi(): string {
  const entry = path.join(ROOT, 'lib', 'index.ts');
  const program = ts.createProgram([entry], { strict: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, esModuleInterop: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry)!;
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!);
  const out = [
    '# API reference',
    '',
    'Generated from the package entry (`modulus-images`) by `scripts/api-doc.ts` (in the repository); the unit suite',
    'fails when this file is out of date. Every export, in alphabetical order.',
    '',
  ];
  for (const exported of [...exports].sort((a, b) => a.getName().localeCompare(b.getName()))) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.[0];
    if (!declaration) continue;
    const name = exported.getName();
    const { text, tags } = docOf(checker, symbol);
    const kind = ts.isClassDeclaration(declaration) ? 'class' : ts.isInterfaceDeclaration(declaration) ? 'interface' : ts.isEnumDeclaration(declaration) ? 'enum' : ts.isTypeAliasDeclaration(declaration) ? 'type' : ts.isFunctionDeclaration(declaration) ? 'function' : 'const';
    out.push(`## ${name}`, '', `*${kind}*${tags.has('default') ? ` (default: ${tags.get('default')})` : ''}`, '');
    if (text) out.push(text, '');
    if (kind === 'class') {
      const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
      const constructors = type.getConstructSignatures();
      if (constructors.length > 0) out.push('Constructor:', '', ...signatureLines(checker, `new ${name}`, constructors), '');
      const statics = checker
        .getPropertiesOfType(type)
        .filter((member) => !isHidden(checker, member) && member.flags & ts.SymbolFlags.Method && member.declarations?.some((d) => d.parent === declaration));
      if (statics.length > 0) out.push('Static methods:', '', ...statics.flatMap((member) => signatureLines(checker, `${name}.${member.getName()}`, checker.getTypeOfSymbolAtLocation(member, declaration).getCallSignatures())), '');
      const instance = checker.getDeclaredTypeOfSymbol(symbol);
      const ownMembers = checker.getPropertiesOfType(instance).filter((member) => member.declarations?.some((d) => d.parent === declaration));
      const rows = memberRows(checker, ownMembers, declaration);
      if (rows.length > 0) out.push('Properties:', '', ...rows, '');
      const methods = ownMembers.filter((member) => !isHidden(checker, member) && member.flags & ts.SymbolFlags.Method);
      if (methods.length > 0) out.push('Methods:', '', ...methods.flatMap((member) => signatureLines(checker, member.getName(), checker.getTypeOfSymbolAtLocation(member, declaration).getCallSignatures())), '');
    } else if (kind === 'interface') {
      const rows = memberRows(checker, checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)), declaration);
      if (rows.length > 0) out.push(...rows, '');
    } else if (kind === 'enum') {
      out.push('| member | value | description |', '| --- | --- | --- |');
      for (const member of (declaration as ts.EnumDeclaration).members) {
        const memberSymbol = checker.getSymbolAtLocation(member.name)!;
        out.push(`| \`${memberSymbol.getName()}\` | \`${JSON.stringify(checker.getConstantValue(member))}\` | ${oneLine(docOf(checker, memberSymbol).text)} |`);
      }
      out.push('');
    } else {
      const type = kind === 'type' ? checker.getDeclaredTypeOfSymbol(symbol) : checker.getTypeOfSymbolAtLocation(symbol, declaration);
      out.push('```ts', `${kind === 'type' ? 'type' : kind} ${name}: ${checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias)}`, '```', '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (require.main === module) {
  const rendered = renderApi();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(API_DOC) ? fs.readFileSync(API_DOC, 'utf8') : '';
    if (current !== rendered) {
      console.error('docs/API.md is out of date: run npm run api-doc');
      process.exit(1);
    }
  } else {
    fs.writeFileSync(API_DOC, rendered);
  }
}
