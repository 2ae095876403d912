/**
 * Just enough of PostgreSQL's wire protocol (v3) for tests that play the server's part in a
 * proxy: finding a message in its replies and writing an ErrorResponse.
 */

/** Where the first whole ReadyForQuery ('Z') in `replies` ends, or undefined if none has come. */
export function endOfReadyForQuery(replies: Buffer): number | undefined {
  // Every message the server sends: a type byte, then an int32 length that counts itself.
  let offset = 0;
  while (offset + 5 <= replies.length) {
    const end = offset + 1 + replies.readInt32BE(offset + 1);
    if (end > replies.length) return undefined;
    if (replies[offset] === 0x5a) return end;
    offset = end;
  }
  return undefined;
}

/**
 * A FATAL ErrorResponse, as the server sends before it closes a session it ends; 57P01 is
 * what `pg_terminate_backend` and a fast shutdown send.
 */
export function fatalErrorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}
