// Checks the built declarations (run after `npm run build`, as part of `npm run lint:package`):
// compiles .ci/consumer-types, an ESM and a CommonJS app that use every entry point as the
// README shows, with --strict and --exactOptionalPropertyTypes and skipLibCheck off. Any error
// in keyward's declarations (dist/) or in those apps fails the check. Errors inside other
// packages' declarations (@types/koa, say, against the content-disposition it finds) are not
// keyward's to fix: they are listed but do not fail it.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const configPath = fileURLToPath(new URL('./consumer-types/tsconfig.json', import.meta.url));
const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
  },
});
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const diagnostics = [...config.errors, ...ts.getPreEmitDiagnostics(program)];

const isThirdParty = (diagnostic) => diagnostic.file?.fileName.includes('/node_modules/') ?? false;
const host = {
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: ts.sys.getCurrentDirectory,
  getNewLine: () => '\n',
};
const ours = diagnostics.filter((diagnostic) => !isThirdParty(diagnostic));
const theirs = diagnostics.filter(isThirdParty);

if (theirs.length > 0) {
  console.log(`consumer types: ${theirs.length} error(s) in other packages' declarations, not keyward's:`);
  console.log(ts.formatDiagnostics(theirs, host));
}
if (ours.length > 0) {
  console.error(ts.formatDiagnostics(ours, host));
  console.error(`consumer types: ${ours.length} error(s) in keyward's declarations or the README's usage (strict, exactOptionalPropertyTypes, no skipLibCheck)`);
  process.exit(1);
}
console.log(`consumer types: ${config.fileNames.length} apps compile against dist/ with strict and exactOptionalPropertyTypes, skipLibCheck off`);
