// Checks the built package (run after `npm run build`): the ESM and the CommonJS entry each
// authenticate a key through the Argon2 worker pool, refuse a wrong secret, close, and leave
// nothing running. The pool's worker file is loaded from dist/, as in an installed package,
// and the package is loaded from a copy in a folder whose path holds '#', '?', '%' and a
// space: characters that a path made into a URL without escaping would misread.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { build as esbuild } from 'esbuild';

/** This process's thread count (Linux), or undefined where /proc is not there. */
function threadCount() {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    return undefined;
  }
}

/** Waits up to two seconds for the thread count to drop below `count`. */
async function threadsBelow(count) {
  for (let waited = 0; waited < 2000; waited += 50) {
    if (threadCount() < count) return true;
    await sleep(50);
  }
  return false;
}

const project = fileURLToPath(new URL('..', import.meta.url));
const installed = mkdtempSync(join(tmpdir(), 'keyward smoke #1?%41 '));
process.on('exit', () => rmSync(installed, { recursive: true, force: true }));
// package.json too, so that the adapters' imports of 'keyward' find this copy.
for (const entry of ['package.json', 'dist', 'sql']) cpSync(join(project, entry), join(installed, entry), { recursive: true });
symlinkSync(join(project, 'node_modules'), join(installed, 'node_modules'));
const entryUrl = (file) => pathToFileURL(join(installed, 'dist', file)).href;

const require = createRequire(join(installed, 'package.json'));
// The process's own stdio handles (pipes when output is piped, TTYs on a terminal) stay open;
// only what is left beyond them counts. Node opens them on first use, so open them first.
void process.stdout.fd;
void process.stderr.fd;
const atStart = process.getActiveResourcesInfo();
const builds = {
  esm: await import(entryUrl('index.js')),
  cjs: require('./dist/index.cjs'),
};

for (const [format, keyward] of Object.entries(builds)) {
  const store = new keyward.MemoryKeyStore();
  const manager = keyward.createKeyManager({ store });
  const { key } = await manager.issue({ accountId: 'acct_smoke', environment: 'sandbox' });
  // No memo: every check below must run Argon2 in a worker thread.
  const reasons = [];
  const auth = keyward.createApiKeyAuth({
    store,
    memo: false,
    argon2Pool: { threads: 1 },
    onDecision: (decision) => reasons.push(decision.reason),
  });

  const good = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
  assert.equal(good.ok, true, `${format}: a valid key must pass through the pool`);

  const body = key.slice(8, -6);
  const forged = `sk_test_${body.slice(0, 12)}${body.slice(12).replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))}`;
  const wrong = `${forged}${keyward.checksumOf(forged)}`;
  const bad = await auth.authenticate({ headers: { authorization: `Bearer ${wrong}` } });
  assert.equal(bad.ok, false, `${format}: a wrong secret must fail`);
  assert.equal(bad.response.status, 401, `${format}: a wrong secret answers 401`);
  assert.deepEqual(reasons, ['authenticated', 'secret_mismatch'], `${format}: decisions`);

  // decide() gives a decision made without waiting as it is, and a pending one as a promise.
  const malformed = auth.decide({ headers: { authorization: 'Bearer sk_test_short' } });
  assert.equal(keyward.isPendingDecision(malformed), false, `${format}: a malformed key is decided at once`);
  assert.equal(malformed.response.status, 401, `${format}: a malformed key answers 401`);
  assert.equal(keyward.isPendingDecision(auth.decide({ headers: { authorization: `Bearer ${key}` } })), true, `${format}: an Argon2 check is pending`);

  // The pool's idle thread is unref'd, so it would not keep the process alive by itself:
  // the thread count and the flushed usage are what tell that close() ran and worked.
  const threadsWithPool = threadCount();
  await auth.close();
  const [row] = store.allRows();
  assert.ok(row.last_used_at instanceof Date, `${format}: close() must flush last_used_at`);
  if (threadsWithPool !== undefined) {
    assert.ok(await threadsBelow(threadsWithPool), `${format}: close() must stop the Argon2 thread`);
  }
  console.log(`dist ${format}: pool verify ok, wrong secret 401, closed (usage flushed, thread stopped)`);
}

// Every entry point throws the core's one ApiKeyAuthError class, in both formats, so an app's
// `instanceof ApiKeyAuthError` holds whichever entry threw. A subpath that bundled its own copy
// of the class (CommonJS builds share no code between entries) would fail this.
const postgresBuilds = { esm: await import(entryUrl('postgres.js')), cjs: require('./dist/postgres.cjs') };
for (const [format, { PostgresKeyStore }] of Object.entries(postgresBuilds)) {
  const fakePool = { options: { connectionTimeoutMillis: 1000 }, query() {}, connect() {}, on() {}, listenerCount: () => 0 };
  assert.throws(
    () => new PostgresKeyStore({ pool: fakePool, logger: console.log }),
    (error) => error instanceof builds[format].ApiKeyAuthError && error.code === 'ERR_OPTIONS_INVALID' && /"logger"/.test(error.message),
    `${format}: keyward/postgres must throw the core's ApiKeyAuthError`,
  );
}
for (const file of readdirSync(new URL('../dist/', import.meta.url))) {
  if (!/\.(c?js)$/.test(file) || file.startsWith('index.') || file.startsWith('chunk-')) continue;
  const text = readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
  assert.ok(!/class ApiKeyAuthError|ApiKeyAuthError\d* = class/.test(text), `dist/${file} must not define its own ApiKeyAuthError`);
}
console.log('dist: one ApiKeyAuthError class across entry points, in both formats');

// An app that both imports and requires keyward holds two copies of the class; either copy's
// errors count as the other's.
assert.ok(new builds.cjs.ApiKeyAuthError('ERR_INTERNAL', 'x') instanceof builds.esm.ApiKeyAuthError, 'a CommonJS error must be an ESM ApiKeyAuthError');
assert.ok(new builds.esm.ApiKeyAuthError('ERR_INTERNAL', 'x') instanceof builds.cjs.ApiKeyAuthError, 'an ESM error must be a CommonJS ApiKeyAuthError');
console.log('dist: an ApiKeyAuthError of either format is one of the other');

// Logs and stack traces name the class as the docs do, though the build renames it inside.
for (const format of ['esm', 'cjs']) {
  const error = new builds[format].ApiKeyAuthError('ERR_INTERNAL', 'x');
  assert.deepEqual([builds[format].ApiKeyAuthError.name, error.constructor.name, error.name], ['ApiKeyAuthError', 'ApiKeyAuthError', 'ApiKeyAuthError'], `${format}: the class must be named ApiKeyAuthError`);
}
console.log('dist: ApiKeyAuthError keeps its name in both formats');

// Bundled into an app, keyward runs from the bundle's folder, where its Argon2 threads find no
// module to load: createApiKeyAuth must say so at startup, not answer 500 to every new key.
const bundleFolder = mkdtempSync(join(tmpdir(), 'keyward-bundle-'));
process.on('exit', () => rmSync(bundleFolder, { recursive: true, force: true }));
const bundledApp = `
  const { createApiKeyAuth, MemoryKeyStore } = require('keyward');
  try {
    createApiKeyAuth({ store: new MemoryKeyStore() });
    console.log('started');
  } catch (error) {
    console.log(error.name + ' ' + error.code + ': ' + error.message);
  }`;
for (const format of ['esm', 'cjs']) {
  const outfile = join(bundleFolder, `app.${format === 'esm' ? 'mjs' : 'cjs'}`);
  await esbuild({
    stdin: { contents: bundledApp, resolveDir: installed },
    bundle: true,
    platform: 'node',
    format,
    outfile,
    alias: { keyward: join(installed, 'dist', format === 'esm' ? 'index.js' : 'index.cjs') },
    // How ESM bundles usually give bundled CommonJS code a require.
    banner: format === 'esm' ? { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } : {},
    logLevel: 'error',
  });
  const said = execFileSync(process.execPath, [outfile], { encoding: 'utf8' }).trim();
  assert.equal(
    said,
    `ApiKeyAuthError ERR_OPTIONS_INVALID: keyward cannot find its Argon2 worker module, argon2-task.mjs, in ${bundleFolder}: keyward was probably bundled into the app. Keep it external (esbuild: --external:keyward) and install it beside the bundle; see "Bundling" in the README.`,
    `${format} bundle: createApiKeyAuth must refuse to start`,
  );
}
console.log('dist: bundled into an app (esm and cjs), createApiKeyAuth refuses to start and says why');

// keyward needs no crypto.hash (added in Node.js 20.12): its memo key is hashed in JavaScript.
// On a Node.js without it, the ES module must load and a key authenticate, not fail at link
// time with a bare SyntaxError. Node's module hooks stand in for such a Node: node:crypto
// without its hash export.
const oldNodeHooks = join(bundleFolder, 'crypto-without-hash.mjs');
writeFileSync(oldNodeHooks, `
  import * as realCrypto from 'node:crypto';
  export async function resolve(specifier, context, next) {
    const fromShim = context.parentURL === 'keyward-smoke:crypto';
    if (!fromShim && (specifier === 'crypto' || specifier === 'node:crypto')) return { url: 'keyward-smoke:crypto', shortCircuit: true };
    return next(specifier, context);
  }
  export async function load(url, context, next) {
    if (url !== 'keyward-smoke:crypto') return next(url, context);
    const names = Object.keys(realCrypto).filter((name) => name !== 'hash' && name !== 'default');
    const source = \`import * as crypto from 'node:crypto'; export default crypto; export const { \${names.join(', ')} } = crypto;\`;
    return { format: 'module', source, shortCircuit: true };
  }`);
const oldNodeApp = `
  import { register } from 'node:module';
  register(${JSON.stringify(pathToFileURL(oldNodeHooks).href)});
  const { createApiKeyAuth, createKeyManager, MemoryKeyStore } = await import(${JSON.stringify(entryUrl('index.js'))});
  const store = new MemoryKeyStore();
  const { key } = await createKeyManager({ store }).issue({ accountId: 'acct_smoke', environment: 'sandbox' });
  const auth = createApiKeyAuth({ store, argon2Pool: false });
  const answers = [];
  for (const presented of [key, key]) answers.push((await auth.authenticate({ headers: { authorization: 'Bearer ' + presented } })).ok);
  await auth.close();
  console.log(answers.join(' '));`;
assert.equal(
  execFileSync(process.execPath, ['--input-type=module', '-e', oldNodeApp], { encoding: 'utf8' }).trim(),
  'true true',
  'esm on a Node.js without crypto.hash: a key must authenticate, first by Argon2, then from the memo',
);
console.log('dist: esm on a Node.js without crypto.hash loads and authenticates a key');

// An app that installed keyward and nothing else (no framework, none of the optional peers):
// each adapter entry point still loads, in both formats. keyward/fastify needs fastify-plugin
// at import, so it must come with keyward; an app that skipped it got ERR_MODULE_NOT_FOUND.
const bareApp = mkdtempSync(join(tmpdir(), 'keyward-bare-app-'));
process.on('exit', () => rmSync(bareApp, { recursive: true, force: true }));
const bareKeyward = join(bareApp, 'node_modules', 'keyward');
mkdirSync(bareKeyward, { recursive: true });
for (const entry of ['package.json', 'dist']) cpSync(join(project, entry), join(bareKeyward, entry), { recursive: true });
// Only what `npm install keyward` brings: its dependencies (their own ones resolve from the
// project's node_modules, where the links point).
const { dependencies } = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
for (const name of Object.keys(dependencies)) {
  mkdirSync(join(bareApp, 'node_modules', name, '..'), { recursive: true });
  symlinkSync(join(project, 'node_modules', name), join(bareApp, 'node_modules', name));
}
const bareRequire = createRequire(join(bareApp, 'package.json'));
const adapterExports = {
  express: ['expressApiKeyAuth', 'expressBasicAuth'],
  koa: ['koaApiKeyAuth', 'koaBasicAuth'],
  fastify: ['fastifyApiKeyAuth', 'fastifyApiKeyAuthHook', 'fastifyBasicAuth'],
};
for (const [entry, names] of Object.entries(adapterExports)) {
  const loaded = {
    esm: await import(pathToFileURL(join(bareKeyward, 'dist', `${entry}.js`)).href),
    cjs: bareRequire(`keyward/${entry}`),
  };
  for (const [format, exports] of Object.entries(loaded)) {
    assert.deepEqual(Object.keys(exports).filter((name) => name !== 'default').sort(), names, `${format}: keyward/${entry} in an app with keyward alone`);
  }
}
console.log('dist: keyward/express, keyward/koa and keyward/fastify load in an app that installed keyward alone (esm and cjs)');

// Migration tools find the schema script through the package's exports.
const schemaScript = require.resolve('keyward/sql/keyward-schema.sql');
assert.equal(schemaScript, join(installed, 'sql', 'keyward-schema.sql'), 'keyward/sql/keyward-schema.sql must resolve');
console.log('dist: keyward/sql/keyward-schema.sql resolves');

// Whatever remains would keep a gateway from exiting after close().
const left = process.getActiveResourcesInfo();
for (const name of atStart) left.splice(left.indexOf(name), left.includes(name) ? 1 : 0);
assert.deepEqual(left, [], `handles left open after close(): ${left.join(', ')}`);
console.log('dist smoke: passed');
