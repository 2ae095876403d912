/**
 * `npm run portal` as a user runs it: a real process that prints both URLs, serves the page
 * and the gateway, and exits cleanly on SIGTERM and SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';

let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});

/** Starts the entry point on free ports and resolves once both URLs are printed. */
function startMain(): Promise<{ portalUrl: string; pid: number; gatewayUrl: string; output: () => string }> {
  child = spawn(process.execPath, ['--import', 'tsx', 'examples/portal/main.ts'], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const portal = /keyward portal \(demo account, no login\): (http:\/\/127\.0\.0\.1:\d+\/)  pid (\d+) \(kill -TERM \2 stops it\)/.exec(output);
      const gateway = /keyward demo gateway: +(http:\/\/127\.0\.0\.1:\d+) /.exec(output);
      if (portal && gateway) resolve({ portalUrl: portal[1]!, pid: Number(portal[2]), gatewayUrl: gateway[1]!, output: () => output });
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child!.once('exit', (code) => reject(new Error(`portal exited early with ${code}: ${output}`)));
  });
}

function exitOf(running: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => running.once('exit', (code) => resolve(code)));
}

describe('npm run portal (examples/portal/main.ts)', { timeout: 30_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`prints both URLs, serves the page and the gateway, and exits 0 on ${signal}`, async () => {
      const { portalUrl, gatewayUrl, output } = await startMain();

      const page = await fetch(portalUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Generate API key');
      expect((await fetch(`${gatewayUrl}/healthz`)).status).toBe(200);

      const exited = exitOf(child!);
      child!.kill(signal);
      expect(await exited).toBe(0);
      expect(output()).toContain(`${signal} received, shutting down`);
    });
  }

  it('prints the pid of the process that stops on SIGTERM, and stops on a SIGTERM sent to it the moment the line is read', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/portal/main.ts'], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const running = child;
    const exited = exitOf(running);
    let output = '';
    let signalled = false;
    running.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    running.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const pid = / pid (\d+) /.exec(output)?.[1];
      // As a script would: the signal goes to the printed pid as soon as the line is in.
      if (!signalled && pid !== undefined) {
        signalled = true;
        expect(Number(pid)).toBe(running.pid);
        process.kill(Number(pid), 'SIGTERM');
      }
    });

    expect(await exited).toBe(0);
    expect(output).toContain('SIGTERM received, shutting down');
  });
});
