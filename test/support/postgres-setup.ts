/**
 * Vitest global setup for the PostgreSQL suites: checks once that the test database answers
 * (creating it if the server has no such database yet) and tells every test file through
 * `inject('postgres')`. Without a server the suites are skipped with one line saying how to
 * enable them; with `CI` set, a missing server fails the run instead.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test database URL, or null when PostgreSQL is not reachable. */
    postgresUrl: string | null;
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/keyward_test';

export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.KEYWARD_TEST_DATABASE_URL || DEFAULT_URL;
  const problem = await reach(url);
  if (problem !== undefined) {
    const where = redacted(url);
    if (process.env.CI) {
      throw new Error(`PostgreSQL test database ${where} is not reachable (${problem}); CI requires it.`);
    }
    console.warn(
      `keyward: PostgreSQL suites skipped: ${where} not reachable (${problem}). Start PostgreSQL or set KEYWARD_TEST_DATABASE_URL to enable them.`,
    );
  }
  project.provide('postgresUrl', problem === undefined ? url : null);
}

/** Undefined when the database answers, else why not. */
async function reach(url: string): Promise<string | undefined> {
  const first = await ping(url);
  if (first === undefined || !first.includes('3D000')) return first;
  // The server is up but the database is missing: create it (another run may race us).
  const server = new URL(url);
  const name = decodeURIComponent(server.pathname.slice(1));
  server.pathname = '/postgres';
  const client = new pg.Client({ connectionString: server.href, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') return describe(error);
  } finally {
    await client.end().catch(() => {});
  }
  return ping(url);
}

async function ping(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return describe(error);
  } finally {
    await client.end().catch(() => {});
  }
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(' ') || String(error);
}

/** The URL without a password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(KEYWARD_TEST_DATABASE_URL is not a URL)';
  }
}
