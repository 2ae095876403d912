import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';

describe('npm run demo (examples/demo/main.ts) at start', { timeout: 30_000 }, () => {
  it('prints its address and pid first, then every demo key, then "try it:" and a curl command alone on its line, and shuts down cleanly on a SIGTERM sent as soon as the pid is read', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/main.ts'], {
      env: { ...process.env, PORT: '0', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    const exited = once(child, 'exit');
    // SIGTERM the moment the first line (the pid's) is in, as a script that reads it would;
    // if the demo never prints it, it is stopped after 20 s and the assertions say so.
    const firstLine = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('\n')) resolve(clearTimeout(timer));
      });
    });
    await firstLine;
    child.kill('SIGTERM');
    const [code] = await exited;

    const lines = output.split('\n');
    const [, base, pid] = /^keyward demo gateway \(express, memory store\) listening on (http:\/\/127\.0\.0\.1:\d+), pid (\d+) \(kill -TERM \2 stops it\)$/.exec(lines[0]!) ?? [];
    expect(Number(pid)).toBe(child.pid);
    const labels = lines.slice(1, 11).map((line) => /^demo key ([a-z_]+): sk_test_[0-9A-Za-z]{50}$/.exec(line)?.[1]);
    expect(labels).toEqual(['allowed', 'pending_validation', 'suspended', 'revoqued', 'locked', 'expired', 'rejected', 'other_type', 'soft_deleted', 'revoked_at']);
    expect(lines[11]).toBe('try it:');
    const allowed = lines[1]!.slice('demo key allowed: '.length);
    expect(lines[12]).toBe(
      `curl -i -X POST ${base}/v1/sms -H 'Authorization: Bearer ${allowed}' -H 'Content-Type: application/json' -d '{"to":"+15550100","body":"hello"}'`,
    );
    expect(lines[13]).toBe('SIGTERM received, shutting down');
    expect(code).toBe(0);
  });
});
