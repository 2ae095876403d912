/**
 * Each entry point loads only what it needs: the core no framework at all, and an adapter
 * never another framework. Checked in a fresh Node process per entry, since the test runner
 * itself has every framework loaded.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const printer = fileURLToPath(new URL('../fixtures/print-loaded-packages.mjs', import.meta.url));

/**
 * The optional peers, under their own names and the aliases the tests install. (fastify-plugin,
 * which keyward/fastify loads, is a dependency of keyward's own.)
 */
const FRAMEWORKS = new Set(['express', 'express4', 'koa', 'koa2', 'fastify', 'fastify4', 'pg']);

/** Frameworks among the npm packages that importing `entry` loads (tsx resolves `keyward`). */
async function frameworksLoadedBy(entry: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', printer, entry], { cwd: root });
  const packages = JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
  return packages.filter((name) => FRAMEWORKS.has(name));
}

describe('entry point isolation', () => {
  it.each([
    { name: 'keyward', entry: './src/index.ts', expected: [] },
    { name: 'keyward/express', entry: './adapters/express.ts', expected: [] },
    { name: 'keyward/koa', entry: './adapters/koa.ts', expected: [] },
    { name: 'keyward/fastify', entry: './adapters/fastify.ts', expected: [] },
  ])('importing $name loads no framework but $expected', async ({ entry, expected }) => {
    expect(await frameworksLoadedBy(entry)).toEqual(expected);
  });

  it('sees a framework when one is imported, so the checks above can fail', async () => {
    expect(await frameworksLoadedBy('koa')).toEqual(['koa']);
    expect(await frameworksLoadedBy('fastify')).toContain('fastify');
  });
});
