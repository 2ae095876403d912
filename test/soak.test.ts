/**
 * Soak: ten thousand mixed requests (valid, wrong, malformed, every status, store down,
 * corrupted row) across every adapter, in a child process started with --expose-gc. After
 * everything is closed: no unhandled rejection, no handle left open, heap back near its start.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
// Both heap readings follow a full round of apps started, loaded and closed (the first one a
// warm-up), so they differ by what the measured round left behind. Retaining even 1 KiB per
// request would add 10 MiB and fail here; the slack keeps a noisy machine from failing a
// healthy run.
const HEAP_SLACK_BYTES = 8 * 1024 * 1024;

interface SoakResult {
  requests: number;
  statusCounts: Record<string, number>;
  mismatches: string[];
  unhandled: string[];
  resourcesBefore: string[];
  resourcesAfter: string[];
  heapStart: number;
  heapEnd: number;
}

function runSoak(): Promise<SoakResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/soak/soak-run.ts'],
      { cwd: root, timeout: 90_000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`soak run failed: ${error.message}\n${stderr.slice(0, 2_000)}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as SoakResult);
      },
    );
  });
}

describe('soak across every adapter', () => {
  it('answers 10,000 mixed requests as documented, leaks no handle, rejection or heap', async () => {
    const result = await runSoak();
    console.info(
      `soak: ${result.requests} requests ${JSON.stringify(result.statusCounts)}, heap start ${(result.heapStart / 2 ** 20).toFixed(1)} MiB, end ${(result.heapEnd / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(result.requests).toBe(10_000);
    expect(result.mismatches).toEqual([]);
    expect(Object.keys(result.statusCounts).sort()).toEqual(['200', '202', '401', '403', '429', '500', '503']);
    expect(result.unhandled).toEqual([]);
    expect(result.resourcesAfter).toEqual(result.resourcesBefore);
    expect(result.heapEnd - result.heapStart).toBeLessThan(HEAP_SLACK_BYTES);
  }, 120_000);
});
