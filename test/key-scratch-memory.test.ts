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

/** The address range of one line of `/proc/<pid>/maps`. */
function rangeOf(mapping: string): [start: number, end: number] {
  return mapping.split(' ')[0]!.split('-').map((hex) => Number.parseInt(hex, 16)) as [number, number];
}

function occurrences(bytes: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) count++;
  return count;
}

/** How many times `needle` occurs in the process's native heap (where Buffers' bytes live). */
function copiesInNativeHeap(pid: number, needle: Buffer): number {
  const heap = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((line) => line.endsWith('[heap]'));
  if (heap === undefined) return 0;
  const [start, end] = rangeOf(heap);
  const memory = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const bytes = Buffer.alloc(end - start);
    readSync(memory, bytes, 0, bytes.length, start);
    return occurrences(bytes, needle);
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

// The memo key's HMAC takes a key's bytes as they are: a child hashes one (or, as the control,
// only generates it), drops it and collects garbage, then sends it back reversed.
const HMAC_CHILD = `
  import { generateApiKey } from './src/key-format.ts';
  import { ProcessHmacBlake2s } from './src/hmac-blake2s.ts';
  const hmac = new ProcessHmacBlake2s();
  let key = generateApiKey('production').key;
  if (process.env.HASH_IT === '1') hmac.digest(key);
  const reversed = [...key].reverse().join('');
  key = undefined;
  globalThis.gc();
  globalThis.gc();
  process.send(reversed);
  process.on('message', () => process.exit(0));
`;

/** How many times `needle` occurs in the process's private writable memory, V8's heap included. */
function copiesInWritableMemory(pid: number, needle: Buffer): number {
  const mappings = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((line) => / rw.p /.test(line));
  const memory = openSync(`/proc/${pid}/mem`, 'r');
  let copies = 0;
  try {
    for (const mapping of mappings) {
      const [start, end] = rangeOf(mapping);
      // Reserved but untouched address space (V8 reserves gigabytes) holds nothing to find.
      if (end - start > 2 ** 30) continue;
      const bytes = Buffer.alloc(end - start);
      try {
        readSync(memory, bytes, 0, bytes.length, start);
      } catch {
        continue; // a guard page
      }
      copies += occurrences(bytes, needle);
    }
  } finally {
    closeSync(memory);
  }
  return copies;
}

async function keyCopiesLeft(hashIt: boolean): Promise<number> {
  const child = fork('-', [], {
    execArgv: ['--import', 'tsx', '--expose-gc', '--input-type=module', '--eval', HMAC_CHILD],
    env: { ...process.env, HASH_IT: hashIt ? '1' : '0' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const [reversed] = (await once(child, 'message')) as [string];
    return copiesInWritableMemory(child.pid!, Buffer.from([...reversed].reverse().join(''), 'latin1'));
  } finally {
    child.send('done');
    await once(child, 'exit');
  }
}

describe.skipIf(process.platform !== 'linux')("the memo key's scratch space", () => {
  it('keeps no copy of the last key hashed once the call has returned: no more copies than without hashing it', async () => {
    const [hashed, control] = await Promise.all([keyCopiesLeft(true), keyCopiesLeft(false)]);
    expect(hashed).toBeLessThanOrEqual(control);
  });
});
