import { request } from 'node:http';
import { connect } from 'node:net';

/** A response as a client sees it: status, lower-case headers, body text. */
export interface ClientResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers a framework adds on its own; left out when comparing answers across frameworks. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-powered-by']);

/**
 * Sends one request with headers exactly as given (node:http, so tabs and odd casing pass
 * through unchanged; an array sends the header once per value), and reads the whole answer.
 * `localAddress` picks the client's address, such as another loopback address (127.0.0.2).
 */
export function send(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; localAddress?: string } = {},
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const settings = { method: options.method ?? 'GET', headers: options.headers, agent: false, localAddress: options.localAddress };
    const req = request(new URL(path, baseUrl), settings, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: flatten(res.headers), body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends raw bytes on a socket, for header bytes Node's client refuses to write. */
export function sendRaw(baseUrl: string, bytes: Buffer): Promise<ClientResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseRawResponse(Buffer.concat(chunks).toString('latin1'))));
  });
}

/** Headers without those a framework adds by itself, for byte-for-byte comparisons. */
export function comparableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT_HEADERS.has(name)));
}

/** Status, comparable headers and body: what must be identical between two answers. */
export function comparable(response: ClientResponse) {
  return { status: response.status, headers: comparableHeaders(response.headers), body: response.body };
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseRawResponse(text: string): ClientResponse {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}
