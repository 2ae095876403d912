/**
 * What the portal server answers besides the API's own routes, over real HTTP: the security
 * headers on every kind of answer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
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

describe('portal security headers', () => {
  const answers: Array<[string, () => Promise<ClientResponse>]> = [
    ['the page', () => get('/')],
    ['its script', () => get('/portal.js')],
    ['its style sheet', () => get('/portal.css')],
    ['an API answer', () => get('/portal/api/key')],
    ['an unknown API route', () => get('/portal/api/keys')],
    ['a refused cross-site write', () => get('/portal/api/key', {}, 'POST')],
    ['a refused Host', () => get('/', { Host: 'rebind.example' })],
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
