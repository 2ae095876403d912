/**
 * One benchmark server, in a process of its own (forked by bench/run.ts): it serves one
 * framework's route in one form on 127.0.0.1 and, on request, measures its own event-loop
 * delay and resident memory. Messages: it sends `ready`; it answers `measure-start`,
 * `measure-stop` (with `measured`) and `stop`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuthOptions } from 'keyward';
import { FRAMEWORKS, type RouteForm } from './frameworks.js';

export type ServerMessage =
  | { type: 'ready'; port: number; key: string }
  | {
      type: 'measured';
      /** How late the sampling timer fired, beyond its interval: the event-loop delay. */
      eventLoopDelayP99Ms: number;
      eventLoopDelayMaxMs: number;
      /** The histogram as Node gives it: the time between timer fires, interval included. */
      timerIntervalP99Ms: number;
      rssIdleMB: number;
      rssPeakMB: number;
      /** CPU time of this process (all threads) while measuring, in microseconds. */
      cpuMicros: number;
    };

// The third argument: authenticator options beyond the defaults, as JSON (such as a throttle
// switched off).
const [frameworkName, form, optionsJson] = process.argv.slice(2) as [string, RouteForm, string];
const framework = FRAMEWORKS.find((candidate) => candidate.name === frameworkName);
if (!framework) throw new Error(`cannot serve ${frameworkName}`);

const store = new MemoryKeyStore();
const { key } = await createKeyManager({ store }).issue({ accountId: 'acct_bench', environment: 'production' });
const storedHash = store.allRows()[0]!.key_hash;
const auth = createApiKeyAuth({ store, ...(JSON.parse(optionsJson) as Partial<ApiKeyAuthOptions>) });
const server = await framework.start(form, { auth, storedHash, key });

// A gateway that has served its key once: the memo knows it and the Argon2 threads are up.
await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });

// On Node 20 the histogram records the time between two fires of a timer set every
// RESOLUTION_MS, so an idle loop reads 10.1 ms, not 0.1 (the floor Node's own PR #62935
// names). The delay is what lies beyond the interval, so the interval is taken off.
const RESOLUTION_MS = 10;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
const beyondInterval = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
const megabytes = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
let rssIdle = 0;
let rssPeak = 0;
let sampler: NodeJS.Timeout | undefined;
let cpuAtStart = process.cpuUsage();

process.on('message', (message: { type: string }) => {
  if (message.type === 'measure-start') {
    rssIdle = process.memoryUsage.rss();
    rssPeak = rssIdle;
    sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 20);
    delay.reset();
    delay.enable();
    cpuAtStart = process.cpuUsage();
  }
  if (message.type === 'measure-stop') {
    const cpu = process.cpuUsage(cpuAtStart);
    delay.disable();
    clearInterval(sampler);
    send({
      type: 'measured',
      eventLoopDelayP99Ms: beyondInterval(delay.percentile(99)),
      eventLoopDelayMaxMs: beyondInterval(delay.max),
      timerIntervalP99Ms: delay.percentile(99) / 1e6,
      rssIdleMB: megabytes(rssIdle),
      rssPeakMB: megabytes(rssPeak),
      cpuMicros: cpu.user + cpu.system,
    });
  }
  if (message.type === 'stop') {
    void Promise.all([server.close(), auth.close()]).then(() => process.disconnect());
  }
});

send({ type: 'ready', port: server.port, key });

function send(message: ServerMessage): void {
  process.send!(message);
}
