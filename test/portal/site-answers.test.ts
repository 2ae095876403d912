/**
 * What the portal server answers besides the API's own routes, over real HTTP: the security
 * headers on every kind of answer, and the fixed bodies of a path no file matches and of an
 * error outside the API (Express's own pages repeat the path, or show a stack).
 */
import { connect, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateApiKey } from 'keyward';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import { answerClientError, siteErrorHandler } from '../../examples/portal/site-errors.js';
import { send, type ClientResponse } from '../helpers/http-client.js';

let portal: RunningPortal;
let logs: string[];

beforeEach(async () => {
  logs = [];
  portal = await startPortal({ port: 0, gatewayPort: 0, log: (line) => logs.push(line) });
});

afterEach(async () => {
  await portal.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  send(portal.portalUrl, path, { method, headers });

const NOT_FOUND_BODY = '{"error":{"code":"ERR_NOT_FOUND","message":"No such page or file."}}';
const REFUSED_BODY = '{"error":{"code":"ERR_INVALID_REQUEST","message":"This request cannot be answered as it was sent."}}';

describe('portal security headers', () => {
  const answers: Array<[string, () => Promise<ClientResponse>]> = [
    ['the page', () => get('/')],
    ['its script', () => get('/portal.js')],
    ['its style sheet', () => get('/portal.css')],
    ['an API answer', () => get('/portal/api/key')],
    ['an unknown API route', () => get('/portal/api/keys')],
    ['a refused cross-site write', () => get('/portal/api/key', {}, 'POST')],
    ['a refused Host', () => get('/', { Host: 'rebind.example' })],
    ['a path no file matches', () => get('/nope')],
    ['a malformed URL', () => get('/%E0%A4%A')],
    ['a static file error', () => get('/portal.js', { 'If-Match': '"not-this-file"' })],
  ];

  it.each(answers)('are all on %s', async (_what, request) => {
    const { headers } = await request();

    expect({
      csp: headers['content-security-policy'],
      nosniff: headers['x-content-type-options'],
      referrer: headers['referrer-policy'],
      opener: headers['cross-origin-opener-policy'],
      resource: headers['cross-origin-resource-policy'],
    }).toEqual({
      csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      nosniff: 'nosniff',
      referrer: 'no-referrer',
      opener: 'same-origin',
      resource: 'same-origin',
    });
    // Every feature off, but for the clipboard write of the banner's Copy button.
    const directives = (headers['permissions-policy'] ?? '').split(', ');
    expect(directives).toEqual(expect.arrayContaining(['camera=()', 'microphone=()', 'geolocation=()', 'payment=()', 'usb=()', 'clipboard-read=()', 'clipboard-write=(self)']));
    expect(directives.filter((directive) => !directive.endsWith('=()'))).toEqual(['clipboard-write=(self)']);
  });
});

/**
 * Sends `first` to the portal (then, once the answer to it has come whole, ending in
 * `then.after`, `then.send`), and reads all it answers until it closes the connection.
 */
async function rawExchange(first: string, then?: { after: string; send: string }): Promise<string> {
  const { port } = new URL(portal.portalUrl);
  const socket = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(first);
  if (then !== undefined) {
    await new Promise<void>((resolve) => {
      const whole = () => Buffer.concat(chunks).toString('latin1').endsWith(then.after) && resolve();
      socket.on('data', whole);
    });
    socket.write(then.send);
  }
  await closed;
  return Buffer.concat(chunks).toString('latin1');
}

describe('portal answers to requests Node refuses before the app sees them', () => {
  const HOST_REFUSED_BODY = '{"error":{"code":"ERR_CROSS_SITE_REQUEST","message":"This demo portal only answers on 127.0.0.1 or localhost."}}';
  it.each([
    ['a malformed request line', 'NOT A REQUEST\r\n\r\n', 'HTTP/1.1 400 Bad Request', REFUSED_BODY],
    ['a header line without a colon', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n', 'HTTP/1.1 400 Bad Request', REFUSED_BODY],
    ['headers over Node\'s size limit', `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'HTTP/1.1 431 Request Header Fields Too Large', REFUSED_BODY],
    // Answered by Node itself, bare (or not at all, for CONNECT), without the portal's listeners.
    ['an Expect other than 100-continue', 'GET /portal/api/key HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: bogus\r\n\r\n', 'HTTP/1.1 417 Expectation Failed', REFUSED_BODY],
    ['a CONNECT', 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n', 'HTTP/1.1 400 Bad Request', REFUSED_BODY],
    // Let through to the app, whose Host check refuses it.
    ['a request without Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', 'HTTP/1.1 403 Forbidden', HOST_REFUSED_BODY],
  ])('answers %s with its status, the security headers and a fixed body, then closes', async (_what, raw, statusLine, expectedBody) => {
    const answer = await rawExchange(raw);

    const [head, body] = answer.split('\r\n\r\n');
    const lines = head!.split('\r\n');
    expect(lines[0]).toBe(statusLine);
    expect(lines).toEqual(expect.arrayContaining([
      "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options: nosniff',
      'Cross-Origin-Resource-Policy: same-origin',
      'Content-Type: application/json; charset=utf-8',
      'Connection: close',
    ]));
    expect(body).toBe(expectedBody);
  });

  it('destroys the connection once its answer is written, so a client that never closes its side holds nothing', async () => {
    const written: string[] = [];
    const connection = new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _encoding, done) {
        written.push(chunk.toString('latin1'));
        done();
      },
    });

    answerClientError(Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD' }), connection);
    await new Promise((resolve) => connection.once('close', resolve));

    expect([written.join('').startsWith('HTTP/1.1 400 Bad Request\r\n'), connection.destroyed]).toEqual([true, true]);
  });

  it('answers a malformed request on a kept-alive connection after the answer to the one before it', async () => {
    const answer = await rawExchange('GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { after: NOT_FOUND_BODY, send: 'NOT A REQUEST\r\n\r\n' });

    // The second answer follows the first one's body directly, not on a line of its own.
    expect(answer.match(/HTTP\/1\.1 \d{3} [^\r]*/g)).toEqual(['HTTP/1.1 404 Not Found', 'HTTP/1.1 400 Bad Request']);
    expect(answer.endsWith(`\r\n\r\n${REFUSED_BODY}`)).toBe(true);
  });
});

describe('portal answers outside the API', () => {
  it('answers a path no file matches with one fixed 404 body that repeats nothing of the path', async () => {
    const key = generateApiKey('sandbox').key;
    // The last two name a folder, which a static file server answers with a redirect to the
    // path with a slash, repeating it.
    const paths = [`/keys/${key}`, `/${key}`, `/${encodeURIComponent(key)}x`, '/%E0%A4%A', '/portal.css/x', `/..%2f..%2f${key}`, '/%00', `/${key}%2f%2e%2e`, '/%2f%2e'];

    for (const path of paths) {
      const response = await get(path);
      // Booleans only, so a failure never prints the key.
      expect.soft(response.status === 404 && response.body === NOT_FOUND_BODY, `${paths.indexOf(path)}: status and body`).toBe(true);
      expect.soft(response.body.includes(key.slice(8)), `${paths.indexOf(path)}: the key in the body`).toBe(false);
      expect.soft(response.headers['content-type'], `${paths.indexOf(path)}: content type`).toBe('application/json; charset=utf-8');
      expect.soft(response.headers['cache-control'], `${paths.indexOf(path)}: cache`).toBe('no-store');
    }
  });

  it('answers a path whose dot segments lead back to the page with the page itself, never a redirect repeating the path', async () => {
    const key = generateApiKey('sandbox').key;
    const page = await get('/');

    for (const path of [`/${key}/%2e%2e`, '/.', '/%2e']) {
      const response = await get(path);
      // Booleans only, so a failure never prints the key.
      expect.soft(response.status === 200 && response.body === page.body, `${path.length}: the page`).toBe(true);
      expect.soft(response.headers.location, `${path.length}: no redirect`).toBeUndefined();
      expect.soft(response.headers['cache-control'], `${path.length}: cache`).toBe('no-store');
    }
  });

  it('answers any other method on the page the same way', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await get('/index.html', {}, method);
      expect([method, response.status, response.body]).toEqual([method, 404, NOT_FOUND_BODY]);
    }
  });

  it.each([
    ['a failed precondition', { 'If-Match': '"not-this-file"' }, 412],
    ['an unsatisfiable range', { Range: 'bytes=99999999-' }, 416],
  ])('answers a static file refused for %s with its status and a fixed JSON body, no stack', async (_what, headers, status) => {
    const response = await get('/portal.js', headers);

    expect(response.status).toBe(status);
    expect(response.body).toBe(REFUSED_BODY);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['last-modified']).toBeUndefined();
    expect(logs).toEqual([]);
  });
});

describe('siteErrorHandler', () => {
  let server: Server;
  let baseUrl: string;
  const handlerLogs: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.get('/fails', () => {
      throw new Error('internal detail /fails sk_test_x');
    });
    app.use(siteErrorHandler((line) => handlerLogs.push(line)));
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers a server fault with a generic 500 and logs the error name, never its message', async () => {
    const response = await send(baseUrl, '/fails');

    expect(response.status).toBe(500);
    expect(response.body).toBe('{"error":{"code":"ERR_INTERNAL","message":"Internal server error."}}');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(handlerLogs).toEqual(['portal fault Error']);
  });
});
