/**
 * One load generator, in a process of its own (forked by bench/run.ts), so the server's
 * numbers do not include the client's work. It receives one job, runs autocannon against
 * 127.0.0.1 and sends back a summary.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { checksumOf } from 'keyward';

export interface LoadJob {
  port: number;
  connections: number;
  seconds: number;
  /** Sent on every request. */
  key?: string;
  /**
   * Send well-formed keys with this key's prefix and lookup id and a new wrong secret on
   * every request, so no two requests share an Argon2 run or a memo entry.
   */
  forgeFrom?: string;
}

export interface LoadSummary {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  requests: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
}

process.once('message', (job: LoadJob) => {
  void run(job).then((summary) => {
    process.send!(summary);
    process.disconnect();
  });
});

async function run(job: LoadJob): Promise<LoadSummary> {
  const forge = job.forgeFrom ? forger(job.forgeFrom) : undefined;
  const result = await autocannon({
    url: `http://127.0.0.1:${job.port}/v1/ping`,
    connections: job.connections,
    duration: job.seconds,
    headers: job.key ? { authorization: `Bearer ${job.key}` } : {},
    ...(forge
      ? {
          requests: [
            {
              setupRequest: (request: autocannon.Request) => ({
                ...request,
                headers: { ...request.headers, authorization: `Bearer ${forge()}` },
              }),
            },
          ],
        }
      : {}),
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = (stats as { count: number }).count;
  }
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMaxMs: result.latency.max,
    requests: result.requests.total,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** Distinct well-formed keys that find the row and fail at Argon2. */
function forger(validKey: string): () => string {
  const head = validKey.slice(0, -38);
  const salt = randomBytes(6).toString('hex').replace(/[^0-9A-Za-z]/g, '0');
  let counter = 0;
  return () => {
    const secret = `${salt}${(counter++).toString(36)}`.padEnd(32, 'Z').slice(0, 32);
    const body = head + secret;
    return body + checksumOf(body);
  };
}
