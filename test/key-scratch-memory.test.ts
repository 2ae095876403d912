import { fork } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The child parses a key and sends it back reversed, so that no message it sends holds the
// key's bytes in order; only keyward's own code could leave them in the process's memory.
const CHILD = `
  import { generateApiKey, parseApiKey, maskApiKey } from './src/key-format.ts';
  const key = generateApiKey('production').key;
  parseApiKey(key);
  maskApiKey(key);
  process.send([...key].reverse().join(''));
  process.on('message', () => process.exit(0));
`;

/** How many times `needle` occurs in the process's native heap (where Buffers' bytes live). */
function copiesInNativeHeap(pid: number, needle: Buffer): number {
  const heap = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((line) => line.endsWith('[heap]'));
  if (heap === undefined) return 0;
  const [start, end] = heap.split(' ')[0]!.split('-').map((hex) => Number.parseInt(hex, 16)) as [number, number];
  const memory = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const bytes = Buffer.alloc(end - start);
    readSync(memory, bytes, 0, bytes.length, start);
    let copies = 0;
    for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) copies++;
    return copies;
  } finally {
    closeSync(memory);
  }
}

describe.skipIf(process.platform !== 'linux')('the key parser\'s scratch buffer', () => {
  it('keeps no copy of the last key parsed or masked once the call has returned', async () => {
    const child = fork('-', [], { execArgv: ['--import', 'tsx', '--input-type=module', '--eval', CHILD], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      const [reversed] = (await once(child, 'message')) as [string];
      const key = Buffer.from([...reversed].reverse().join(''), 'latin1');
      expect(copiesInNativeHeap(child.pid!, key)).toBe(0);
    } finally {
      child.send('done');
      await once(child, 'exit');
    }
  });
});
