import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the demo with a DATABASE_URL it cannot use', () => {
  it.each([
    ['a database that does not exist', 'postgres://postgres@127.0.0.1:5432/keyward_demo_no_such_database'],
    ['a port where nothing listens', 'postgres://postgres@127.0.0.1:1/keyward'],
  ])('says so on one line and exits 2 for %s, with no stack trace', (_what, databaseUrl) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo/main.ts'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cannot open the PostgreSQL store at DATABASE_URL \(.+\): point it at a database you can reach, or unset it for the memory store$/);
  });
});
