import { describe, expect, it } from 'vitest';
import { refusalClosesConnection } from '../src/unread-body.js';

const request = (headers: Record<string, string>, { httpVersionMajor = 1, complete = false } = {}) => ({ headers, httpVersionMajor, complete });

describe('refusalClosesConnection', () => {
  it('closes for an HTTP/1 body over 64 KiB, chunked, or of a length that is no number, still to come', () => {
    expect(refusalClosesConnection(request({ 'content-length': String(64 * 1024 + 1) }))).toBe(true);
    expect(refusalClosesConnection(request({ 'transfer-encoding': 'chunked' }))).toBe(true);
    expect(refusalClosesConnection(request({ 'content-length': 'lots' }))).toBe(true);
  });

  it('keeps the connection for no body, a body of 64 KiB or less, a body already received, and HTTP/2', () => {
    expect(refusalClosesConnection(request({}))).toBe(false);
    expect(refusalClosesConnection(request({ 'content-length': String(64 * 1024) }))).toBe(false);
    expect(refusalClosesConnection(request({ 'content-length': '100000000' }, { complete: true }))).toBe(false);
    expect(refusalClosesConnection(request({ 'content-length': '100000000' }, { httpVersionMajor: 2 }))).toBe(false);
  });
});
