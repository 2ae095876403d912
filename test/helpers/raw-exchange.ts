/**
 * A raw HTTP/1.1 exchange over one TCP connection, for what an HTTP client library would hide:
 * whether the server closes the connection, and how many answers it sends.
 */
import { connect } from 'node:net';

/** What came back on one raw connection. */
export interface Exchange {
  /** The first answer's head, without `Date` and Express's `X-Powered-By` (the frameworks' own). */
  head: string;
  status: number;
  headers: Map<string, string>;
  /** How many answers came before the wait ended. */
  answers: number;
  /** Whether the server ended the connection. */
  closedByServer: boolean;
}

/**
 * Sends `bytes` on a new connection and waits until the server has ended it or sent
 * `answers` answers (five seconds at most): the first answer's head, and how it went on.
 */
export function exchange(baseUrl: string, bytes: Buffer, answers = 1): Promise<Exchange> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const text = () => Buffer.concat(chunks).toString('latin1');
    const answered = () => text().split('HTTP/1.1 ').length - 1;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const received = text();
      const [statusLine = '', ...lines] = received.slice(0, received.indexOf('\r\n\r\n')).split('\r\n');
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const head = [statusLine, ...lines.filter((line) => !/^(date|x-powered-by):/i.test(line))].join('\r\n');
      resolve({ head, status: Number(statusLine.split(' ')[1]), headers, answers: answered(), closedByServer });
    };
    const timer = setTimeout(() => finish(false), 5_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (answered() >= answers) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('error', (error) => (settled ? undefined : reject(error)));
    socket.write(bytes);
  });
}
