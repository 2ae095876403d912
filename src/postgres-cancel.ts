import net from 'node:net';

/** What a CancelRequest needs from a `pg` client: where its server is, and its backend's key. */
export interface CancelTarget {
  /** A host name or address, or a directory holding the server's Unix socket. @default 'localhost' */
  host?: string | undefined;
  /** @default 5432 */
  port?: number | undefined;
  /** The backend's process id and secret, from the server's BackendKeyData at connect. */
  processID?: number | null | undefined;
  secretKey?: number | null | undefined;
}

// The protocol's CancelRequest code: 1234 in the high 16 bits, 5678 in the low.
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Asks PostgreSQL to cancel the statement the backend of `target` is running, with the
 * protocol's own CancelRequest: a short connection of its own that sends 16 bytes (process id
 * and secret) and is closed by the server. It needs no pool slot and no login, so it works
 * while the pool is exhausted by the very statements it cancels, and the secret makes sure it
 * can only reach that one session (a pooler such as PgBouncer forwards it to the right
 * server). A backend that has already finished its statement ignores it.
 *
 * Resolves once the server has closed the connection (it has read the request); rejects on a
 * socket error, after `timeoutMs`, or when the client exposes no backend key. The secret is
 * never part of an error message.
 */
export function requestCancel(target: CancelTarget, timeoutMs: number): Promise<void> {
  const { processID, secretKey } = target;
  if (!isInt32(processID) || !isInt32(secretKey)) {
    return Promise.reject(new Error('the pool client exposes no backend key (processID, secretKey) to cancel with'));
  }
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);

  const host = target.host || 'localhost';
  const port = target.port || 5432;
  return new Promise<void>((resolve, reject) => {
    const socket = host.startsWith('/')
      ? net.connect(`${host}/.s.PGSQL.${port}`)
      : net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy(new Error(`the cancel request got no answer within ${timeoutMs} ms`));
    });
    socket.once('connect', () => socket.end(packet));
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) resolve();
    });
    // The server sends nothing back; anything it did would only be discarded.
    socket.resume();
  });
}

function isInt32(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= -0x8000_0000 && (value as number) <= 0x7fff_ffff;
}
