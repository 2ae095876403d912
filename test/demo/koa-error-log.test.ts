/**
 * The Koa demo's error listener: Koa prints the stack of every error by default, and a client
 * that resets its connection is one, so a flood of resets would flood the terminal.
 */
import { describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, MemoryKeyStore } from 'keyward';
import { createErrorLog, createKoaDemo } from '../../examples/demo/koa-app.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('the Koa demo error log', () => {
  it.each(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'HPE_INVALID_CHUNK_SIZE'])('writes nothing for %s, a client that went away', (code) => {
    const lines: string[] = [];
    const log = createErrorLog((line) => lines.push(line));
    for (let i = 0; i < 100; i++) log(withCode(code));
    expect(lines).toEqual([]);
  });

  it('writes any other error as one line, at most once a second', () => {
    const lines: string[] = [];
    let now = 0;
    const log = createErrorLog((line) => lines.push(line), () => now);
    for (let i = 0; i < 50; i++) log(new Error('disk full'));
    now = 1_000;
    log(new TypeError('undefined is not a function'));
    expect(lines).toEqual(['koa error: disk full', 'koa error: undefined is not a function']);
  });

  it('replaces Koa\'s own listener, which prints a stack per error', () => {
    const app = createKoaDemo(createApiKeyAuth({ store: new MemoryKeyStore() }));
    app.callback(); // where Koa adds its own listener, when the app has none
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (let i = 0; i < 20; i++) app.emit('error', withCode('ECONNRESET'));
      expect(printed).not.toHaveBeenCalled();
      expect(app.listenerCount('error')).toBe(1);
    } finally {
      printed.mockRestore();
    }
  });
});
