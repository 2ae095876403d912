import net from 'node:net';

/** What the proxy does with connections. */
export type ProxyMode = 'up' | 'down' | 'hung';

/** A TCP proxy on loopback that a test can switch off or make hang. */
export interface TcpProxy {
  /** The port to connect to instead of the target's. */
  port: number;
  /**
   * `up` forwards. `down` drops every open connection and refuses new ones (closed at once,
   * like a stopped server). `hung` stops forwarding on open connections and accepts new ones
   * without ever answering, like a server that froze. Going `up` again drops the connections
   * held while hung, as a restarted server would.
   */
  set(mode: ProxyMode): void;
  /**
   * From now on, a connection on which the client sends a chunk that `trigger` matches gets
   * none of the server's replies any more (the server still gets everything sent to it), like
   * an answer lost on its way back. Other connections are not touched. `null` stops matching.
   * With `holdMs`, the replies are held back that long instead, then passed on: a slow answer.
   */
  muteRepliesAfter(trigger: ((chunk: Buffer) => boolean) | null, holdMs?: number): void;
  /**
   * From now on, a connection on which the client sends a chunk that `trigger` matches stalls
   * for `ms` from that chunk on: nothing passes either way, not even a side closing, as on a
   * link that drops every packet for a while (TCP retransmits them). Then what was held is
   * passed on in order. Other connections are not touched. `null` stops matching.
   */
  stallAfter(trigger: ((chunk: Buffer) => boolean) | null, ms?: number): void;
  /**
   * The next connection opened ends once `lastChunk`, given all the server has replied so far,
   * returns a chunk: the client gets that chunk, in one piece, in place of the replies not yet
   * passed on, and then the connection is closed both ways.
   */
  endNextConnection(lastChunk: (replies: Buffer) => Buffer | undefined): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 in front of `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'up';
  let muteTrigger: ((chunk: Buffer) => boolean) | null = null;
  let muteHoldMs: number | undefined;
  let stallTrigger: ((chunk: Buffer) => boolean) | null = null;
  let stallMs = 0;
  let lastChunkOfNext: ((replies: Buffer) => Buffer | undefined) | undefined;
  const open = new Set<net.Socket>();

  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    if (mode === 'down') return void client.destroy();
    if (mode === 'hung') return void client.pause();
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    let lastChunk = lastChunkOfNext;
    lastChunkOfNext = undefined;
    let replies = Buffer.alloc(0);
    let muted = false;
    let held: Buffer[] = [];
    // While the connection stalls, what would pass either way waits here, in order.
    let stalled: (() => void)[] | undefined;
    const pass = (action: () => void) => (stalled === undefined ? action() : stalled.push(action));
    const stall = () => {
      const waiting: (() => void)[] = [];
      stalled = waiting;
      setTimeout(() => {
        stalled = undefined;
        for (const action of waiting) action();
      }, stallMs);
    };

    // Forwarded by hand both ways rather than piped, so a connection can stall, and a muted one
    // can drop or hold the replies. Pausing the sockets (hung) stops this as it stops a pipe.
    client.on('data', (chunk: Buffer) => {
      if (stalled === undefined && (stallTrigger?.(chunk) ?? false)) stall();
      pass(() => upstream.write(chunk));
      if (muted || !(muteTrigger?.(chunk) ?? false)) return;
      muted = true;
      if (muteHoldMs === undefined) return;
      setTimeout(() => {
        muted = false;
        for (const reply of held) client.write(reply);
        held = [];
      }, muteHoldMs);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (lastChunk !== undefined) {
        replies = Buffer.concat([replies, chunk]);
        const last = lastChunk(replies);
        if (last === undefined) return;
        // Whatever the server says after this is dropped: the client has had its last chunk.
        lastChunk = () => undefined;
        client.end(last);
        upstream.end();
        return;
      }
      pass(() => {
        if (!muted) client.write(chunk);
        else if (muteHoldMs !== undefined) held.push(chunk);
      });
    });
    client.on('end', () => pass(() => upstream.end()));
    client.on('close', () => pass(() => upstream.destroy()));
    upstream.on('close', () => pass(() => client.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const dropAll = () => {
    for (const socket of open) socket.destroy();
  };

  return {
    port: (server.address() as net.AddressInfo).port,
    set(next) {
      if (next === 'hung') {
        // Freeze the open connections: nothing read from either side is passed on.
        for (const socket of open) {
          socket.unpipe();
          socket.pause();
        }
      } else {
        dropAll();
      }
      mode = next;
    },
    muteRepliesAfter(trigger, holdMs) {
      muteTrigger = trigger;
      muteHoldMs = holdMs;
    },
    stallAfter(trigger, ms = 0) {
      stallTrigger = trigger;
      stallMs = ms;
    },
    endNextConnection(lastChunk) {
      lastChunkOfNext = lastChunk;
    },
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
