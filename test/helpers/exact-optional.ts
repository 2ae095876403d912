import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SNIPPET = join(ROOT, 'test', 'exact-optional-snippet.ts');

/**
 * The type errors of `source`, compiled as a file in test/ with this repository's compiler
 * options plus `exactOptionalPropertyTypes`: apps may switch it on, and this repository does
 * not, so a type that leaves out `| undefined` passes `npx tsc --noEmit` here and fails there.
 *
 * @param source - TypeScript that imports what it checks from `keyward` (or a relative path).
 * @param paths - module names to resolve elsewhere, added to tsconfig.json's `paths` (relative
 *   to the repository), for every file of the program: `{ fastify: ['./node_modules/fastify4/fastify.d.ts'] }`
 *   compiles the snippet and keyward's adapters against Fastify 4's types.
 * @returns each error in the snippet as "line: message"; empty when it compiles.
 */
export function exactOptionalTypeErrors(source: string, paths: Record<string, string[]> = {}): string[] {
  const onUnRecoverableConfigFileDiagnostic = (diagnostic: ts.Diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
  };
  const { options } = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    { exactOptionalPropertyTypes: true, noEmit: true },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic },
  )!;
  options.paths = { ...options.paths, ...paths };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === SNIPPET ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === SNIPPET || fileExists.call(host, name);
  const program = ts.createProgram([SNIPPET], options, host);

  // Only the snippet's own errors: keyward's sources are not written for this option, and an
  // app meets the built declarations, which `npm run lint:package` checks whole.
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(SNIPPET)).map((diagnostic) => {
    const start = diagnostic.start ?? 0;
    const line = diagnostic.file ? diagnostic.file.getLineAndCharacterOfPosition(start).line + 1 : 0;
    return `${line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}
