/**
 * `npm run bench`: measures keyward's request path against the targets of BENCHMARKS.md,
 * prints a table and writes bench/results.json. A script, not a test: the numbers depend on
 * the machine. Every server and every load generator runs in a process of its own, and all
 * traffic goes to 127.0.0.1.
 *
 * Environment: BENCH_SECONDS sets the length of each HTTP run (default 3; the flood runs
 * three times as long). BENCH_ONLY runs some sections only (comma-separated: core, routes,
 * first-seen, naive, flood, postgres) and then writes nothing. BENCH_PIN=0 turns core pinning off.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { argon2Verify } from 'hash-wasm';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore } from 'keyward';
import { FRAMEWORKS, type RouteForm } from './frameworks.js';
import { forgeriesOnPostgres, memoHitOnPostgres } from './postgres.js';
import type { LoadJob, LoadSummary } from './load.js';
import type { ServerMessage } from './server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
// Single runs of a route spread by ±20% on this shared machine, so each form runs seven times.
const ROUNDS = 7;
const THROUGHPUT_CONNECTIONS = 50;
const FLOOD_CONNECTIONS = 500;
const VALID_CONNECTIONS = 5;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

// What users run is the build: `npm run bench` builds it and maps `keyward` to it (through
// bench/tsconfig.json, which every child process inherits from tsx). Run any other way, the
// root config would map `keyward` to src/ and the numbers would be of other code.
const MEASURED = import.meta.resolve('keyward');
if (!MEASURED.startsWith(new URL('../dist/', import.meta.url).href)) {
  throw new Error(`bench: keyward resolves to ${fileURLToPath(MEASURED)}, not to the build; run it with \`npm run bench\``);
}
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const TARGETS = {
  memoHitPerSecond: 100_000,
  withKeywardRatio: 0.85,
  firstSeenRatio: 1.15,
  floodEventLoopP99Ms: 20,
  floodValidP99Ms: 50,
  floodRssGrowthMB: 256,
  // The issue names 401 and 503; 429 is the attempt throttle's answer, which landed after it.
  floodStatuses: ['401', '429', '503'],
};

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

/**
 * On a machine with two or more cores, servers run on core 0 and load generators on the
 * others (Linux `taskset`), so a load generator never takes CPU time from the server it
 * measures; that is the closest this machine comes to a load generator on a machine of its
 * own. The process running this script and the Argon2 threads follow their process.
 */
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin();
const SERVER_CPUS = '0';
const LOAD_CPUS = `1-${availableParallelism() - 1}`;

function canPin(): boolean {
  return spawnSync('taskset', ['-c', '0', process.execPath, '-e', '0']).status === 0;
}

function forkTs(file: string, args: string[], cpus: string): ChildProcess {
  const execArgv = ['--import', 'tsx'];
  const options = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[] };
  if (!PIN) return fork(here(file), args, { ...options, execArgv });
  // fork() starts `execPath ...execArgv file ...args`; taskset execs node in place, so the
  // IPC channel passes through.
  return fork(here(file), args, { ...options, execPath: 'taskset', execArgv: ['-c', cpus, process.execPath, ...execArgv] });
}

async function nextMessage<T>(child: ChildProcess): Promise<T> {
  const [message] = (await once(child, 'message')) as [T];
  return message;
}

interface BenchServer {
  port: number;
  key: string;
  measure(): Promise<Extract<ServerMessage, { type: 'measured' }>>;
  startMeasuring(): void;
  stop(): Promise<void>;
}

async function startServer(framework: string, form: RouteForm, options: object = {}): Promise<BenchServer> {
  const child = forkTs('./server.ts', [framework, form, JSON.stringify(options)], SERVER_CPUS);
  const ready = await nextMessage<Extract<ServerMessage, { type: 'ready' }>>(child);
  return {
    port: ready.port,
    key: ready.key,
    startMeasuring: () => child.send({ type: 'measure-start' }),
    measure: async () => {
      child.send({ type: 'measure-stop' });
      return nextMessage(child);
    },
    stop: async () => {
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

async function load(job: LoadJob): Promise<LoadSummary> {
  const child = forkTs('./load.ts', [], LOAD_CPUS);
  child.send(job);
  const summary = await nextMessage<LoadSummary>(child);
  await once(child, 'exit');
  return summary;
}

/** A short unreported run first, so JIT warm-up is not part of the numbers. */
async function measuredLoad(job: LoadJob): Promise<LoadSummary> {
  await load({ ...job, seconds: 1 });
  return load(job);
}

// ---------------------------------------------------------------------------------------
// 1. Core authenticate() with a memo hit
// ---------------------------------------------------------------------------------------

/**
 * Memo hits in a tight loop on this process's one event loop. Two rates are kept per round:
 * per wall-clock second, and per CPU second of this process (user + system, all threads),
 * which is what "per second on one core" means when other processes share the machine; the
 * CPU-second rate is the one compared with the target.
 */
async function memoHitPerSecond() {
  const store = new MemoryKeyStore();
  const { key } = await createKeyManager({ store }).issue({ accountId: 'acct_core', environment: 'production' });
  const auth = createApiKeyAuth({ store });
  const request = bearer(key);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < 6; r++) {
    const n = 100_000;
    const startedCpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const result = await auth.authenticate(request);
      if (!result.ok) throw new Error('memo-hit benchmark: the key did not pass');
    }
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(startedCpu);
    wall.push(Math.round((n / elapsedMs) * 1000));
    cpu.push(Math.round((n / (used.user + used.system)) * 1e6));
  }
  await auth.close();
  // The first round is warm-up (JIT); the median of the rest is reported.
  return {
    perCpuSecond: median(cpu.slice(1)),
    perWallSecond: median(wall.slice(1)),
    roundsPerCpuSecond: cpu,
    roundsPerWallSecond: wall,
  };
}

// ---------------------------------------------------------------------------------------
// 3. A first-seen key against a bare hash-wasm verify
// ---------------------------------------------------------------------------------------

async function firstSeen(samples = 15) {
  const store = new MemoryKeyStore();
  const manager = createKeyManager({ store });
  const keys: string[] = [];
  for (let i = 0; i <= samples; i++) {
    keys.push((await manager.issue({ accountId: `acct_${i}`, environment: 'production' })).key);
  }
  const hashes = new Map(store.allRows().map((row) => [row.lookup_id, row.key_hash]));
  const auth = createApiKeyAuth({ store });
  const inThread = createApiKeyAuth({ store, argon2Pool: false });
  // Key 0 warms the pool threads and both paths' WebAssembly; it is not measured.
  await auth.authenticate(bearer(keys[0]!));
  await argon2Verify({ password: keys[0]!.slice(-38, -6), hash: hashes.get(keys[0]!.slice(8, 20))! });

  const time = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const pooled: number[] = [];
  const bare: number[] = [];
  const inThreadTimes: number[] = [];
  for (const key of keys.slice(1)) {
    const hash = hashes.get(key.slice(8, 20))!;
    // Interleaved, so a slow moment of the machine hits all three alike.
    bare.push(await time(() => argon2Verify({ password: key.slice(-38, -6), hash })));
    pooled.push(await time(() => auth.authenticate(bearer(key))));
    inThreadTimes.push(await time(() => inThread.authenticate(bearer(key))));
  }
  await Promise.all([auth.close(), inThread.close()]);
  return {
    samples,
    bareVerifyMedianMs: round(median(bare)),
    firstSeenPoolMedianMs: round(median(pooled)),
    firstSeenInThreadMedianMs: round(median(inThreadTimes)),
    ratio: round(median(pooled) / median(bare), 3),
  };
}

// ---------------------------------------------------------------------------------------
// 2 and 4. HTTP routes with and without keyward, and the naive baseline
// ---------------------------------------------------------------------------------------

async function route(framework: string, form: RouteForm, connections: number, seconds: number) {
  const server = await startServer(framework, form);
  try {
    return await measuredLoad({ port: server.port, connections, seconds, key: server.key });
  } finally {
    await server.stop();
  }
}

function httpRow(summary: LoadSummary) {
  return {
    requestsPerSecond: Math.round(summary.requestsPerSecond),
    latencyP99Ms: summary.latencyP99Ms,
    statusCodes: summary.statusCodes,
    errors: summary.errors + summary.timeouts,
  };
}

/**
 * The forms of a framework's route run side by side: each server starts once, and short
 * runs alternate between them, so a slow moment of the machine hits all alike. Medians of
 * the rounds are reported. Beside bare and keyward runs the `floor` form (the memo's HMAC and
 * a map lookup only): what the design itself costs on this machine, whoever implements it.
 */
async function withAndWithout(framework: string) {
  const bare = await startServer(framework, 'bare');
  const keyward = await startServer(framework, 'keyward');
  const floor = await startServer(framework, 'floor');
  try {
    const job = (server: BenchServer): LoadJob => ({ port: server.port, connections: THROUGHPUT_CONNECTIONS, seconds: SECONDS, key: server.key });
    await load({ ...job(bare), seconds: 1 });
    await load({ ...job(keyward), seconds: 1 });
    await load({ ...job(floor), seconds: 1 });
    // Each run also records the server's CPU time per request: unlike requests per second it
    // does not depend on how much CPU the load generator and other processes left over.
    const measured = async (server: BenchServer) => {
      server.startMeasuring();
      const summary = await load(job(server));
      const { cpuMicros } = await server.measure();
      return { ...summary, cpuMicrosPerRequest: cpuMicros / summary.requests };
    };
    const rounds: { bare: Measured; keyward: Measured; floor: Measured }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push({ bare: await measured(bare), keyward: await measured(keyward), floor: await measured(floor) });
    }
    const summarize = (pick: (round: (typeof rounds)[number]) => Measured) => ({
      requestsPerSecond: Math.round(median(rounds.map((round) => pick(round).requestsPerSecond))),
      latencyP99Ms: median(rounds.map((round) => pick(round).latencyP99Ms)),
      serverCpuMicrosPerRequest: round(median(rounds.map((round) => pick(round).cpuMicrosPerRequest)), 1),
      rounds: rounds.map((round) => Math.round(pick(round).requestsPerSecond)),
      statusCodes: mergeCounts(rounds.map((round) => pick(round).statusCodes)),
      errors: rounds.reduce((sum, round) => sum + pick(round).errors + pick(round).timeouts, 0),
    });
    const bareRow = summarize((round) => round.bare);
    const keywardRow = summarize((round) => round.keyward);
    const floorRow = summarize((round) => round.floor);
    return {
      bare: bareRow,
      keyward: keywardRow,
      floor: floorRow,
      floorRatio: round(floorRow.requestsPerSecond / bareRow.requestsPerSecond, 3),
      floorCpuRatio: round(bareRow.serverCpuMicrosPerRequest / floorRow.serverCpuMicrosPerRequest, 3),
      ratio: round(keywardRow.requestsPerSecond / bareRow.requestsPerSecond, 3),
      // Each round's two runs follow each other, so their ratio shares that moment's machine.
      pairedRatio: round(median(rounds.map((r) => r.keyward.requestsPerSecond / r.bare.requestsPerSecond)), 3),
      // Requests per CPU-second of the server, with over without: the ratio on a dedicated core.
      cpuRatio: round(bareRow.serverCpuMicrosPerRequest / keywardRow.serverCpuMicrosPerRequest, 3),
    };
  } finally {
    await Promise.all([bare.stop(), keyward.stop(), floor.stop()]);
  }
}

type Measured = LoadSummary & { cpuMicrosPerRequest: number };

function mergeCounts(counts: Record<string, number>[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const count of counts) for (const [code, n] of Object.entries(count)) merged[code] = (merged[code] ?? 0) + n;
  return merged;
}

async function frameworks() {
  const rows: Record<string, Awaited<ReturnType<typeof withAndWithout>>> = {};
  for (const framework of FRAMEWORKS) {
    rows[framework.name] = await withAndWithout(framework.name);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// 5. The flood
// ---------------------------------------------------------------------------------------

/**
 * The flood, against the keyward route with its defaults, against it with the attempt
 * throttle off (so that the forged keys reach the Argon2 pool and its queue bound is what
 * answers them), and, as a control, against the same route without authentication: what
 * the control shows is the framework's own cost of 500 connections.
 */
async function flood(framework: string, form: RouteForm, options: object = {}) {
  const server = await startServer(framework, form, options);
  try {
    const seconds = SECONDS * 3;
    server.startMeasuring();
    const [forged, valid] = await Promise.all([
      load({ port: server.port, connections: FLOOD_CONNECTIONS, seconds, forgeFrom: server.key }),
      load({ port: server.port, connections: VALID_CONNECTIONS, seconds, key: server.key }),
    ]);
    const measured = await server.measure();
    return {
      framework,
      route: form,
      seconds,
      floodConnections: FLOOD_CONNECTIONS,
      floodRequestsPerSecond: Math.round(forged.requestsPerSecond),
      floodLatencyP99Ms: forged.latencyP99Ms,
      floodStatusCodes: forged.statusCodes,
      floodErrors: forged.errors,
      floodTimeouts: forged.timeouts,
      validConnections: VALID_CONNECTIONS,
      validRequestsPerSecond: Math.round(valid.requestsPerSecond),
      validLatencyP50Ms: valid.latencyP50Ms,
      validLatencyP99Ms: valid.latencyP99Ms,
      validStatusCodes: valid.statusCodes,
      eventLoopDelayP99Ms: round(measured.eventLoopDelayP99Ms),
      eventLoopDelayMaxMs: round(measured.eventLoopDelayMaxMs),
      timerIntervalP99Ms: round(measured.timerIntervalP99Ms),
      rssIdleMB: measured.rssIdleMB,
      rssPeakMB: measured.rssPeakMB,
      rssGrowthMB: round(measured.rssPeakMB - measured.rssIdleMB, 1),
    };
  } finally {
    await server.stop();
  }
}

/** Per framework: the flood with keyward's defaults, with the throttle off, and the control. */
async function floods() {
  const runs: Record<string, { keyward: FloodRun; throttleOff: FloodRun; control: FloodRun }> = {};
  for (const { name } of FRAMEWORKS) {
    runs[name] = {
      keyward: await flood(name, 'keyward'),
      throttleOff: await flood(name, 'keyward', { throttle: false }),
      control: await flood(name, 'bare'),
    };
  }
  return runs;
}

type FloodRun = Awaited<ReturnType<typeof flood>>;

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

type Verdict = 'met' | 'MISSED' | 'info';
type Row = [string, string, string, Verdict];

function floodRows(label: string, run: FloodRun): Row[] {
  const statuses = Object.keys(run.floodStatusCodes);
  // A valid client that got no answer at all has an empty latency histogram, which reads 0 ms.
  const validAnswered = Object.values(run.validStatusCodes).some((count) => count > 0);
  return [
    [`${label}: valid client p99`, `${run.validLatencyP99Ms} ms (${JSON.stringify(run.validStatusCodes)})`, `< ${TARGETS.floodValidP99Ms} ms`, verdict(validAnswered && run.validLatencyP99Ms < TARGETS.floodValidP99Ms)],
    [`${label}: event-loop delay p99`, `${run.eventLoopDelayP99Ms} ms (10 ms timer fired ${run.timerIntervalP99Ms} ms apart)`, `< ${TARGETS.floodEventLoopP99Ms} ms`, verdict(run.eventLoopDelayP99Ms < TARGETS.floodEventLoopP99Ms)],
    [`${label}: peak RSS over idle`, `${run.rssGrowthMB} MB (idle ${run.rssIdleMB} MB)`, `< ${TARGETS.floodRssGrowthMB} MB`, verdict(run.rssGrowthMB < TARGETS.floodRssGrowthMB)],
    [
      `${label}: statuses seen`,
      `${JSON.stringify(run.floodStatusCodes)}, ${run.floodErrors} errors, ${run.floodTimeouts} timeouts`,
      TARGETS.floodStatuses.join('/') + ' only',
      verdict(statuses.every((code) => TARGETS.floodStatuses.includes(code)) && run.floodErrors + run.floodTimeouts === 0),
    ],
  ];
}

function verdict(ok: boolean): Verdict {
  return ok ? 'met' : 'MISSED';
}

const SECTIONS: Record<string, () => Promise<unknown>> = {
  core: memoHitPerSecond,
  routes: frameworks,
  'first-seen': () => firstSeen(),
  naive: () => route('express', 'naive', 10, Math.max(SECONDS, 3)),
  flood: () => floods(),
  postgres: async () => ({ memoHit: await memoHitOnPostgres(Math.max(SECONDS, 3)), forgeries: await forgeriesOnPostgres() }),
};

/** BENCH_ONLY: the named sections, printed as JSON; results.json is left as it is. */
async function some(names: string[]): Promise<void> {
  for (const name of names) {
    const section = SECTIONS[name];
    if (!section) throw new Error(`BENCH_ONLY: no section ${name}; sections: ${Object.keys(SECTIONS).join(', ')}`);
    console.log(name, JSON.stringify(await section(), null, 2));
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY) return some(process.env.BENCH_ONLY.split(','));
  const started = Date.now();
  const loadBefore = loadavg().map((value) => round(value));
  if (loadBefore[0]! > 0.5) {
    console.error(`[bench] warning: load average ${loadBefore[0]} before the run; other work on this machine skews the numbers`);
  }
  const log = (text: string) => console.error(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${text}`);

  log('1/5 core authenticate() memo hit, on memory and on PostgreSQL');
  const core = await memoHitPerSecond();
  const postgres = await memoHitOnPostgres(Math.max(SECONDS, 3));
  log('2/5 routes with and without keyward');
  const http = await frameworks();
  log('3/5 first-seen key vs bare argon2Verify');
  const cold = await firstSeen();
  log('4/5 naive baseline (argon2Verify on every request)');
  // At about 20 verifies a second, a run needs a few seconds to say anything.
  const naive = await route('express', 'naive', 10, Math.max(SECONDS, 3));
  log('5/5 flood of forged keys with a valid client alongside (keyward, throttle off, control), per framework');
  const flooded = await floods();
  const pgForgeries = await forgeriesOnPostgres();

  const express = http.express!;
  const rows: Row[] = [
    ['1 memo hit, core, one core', `${core.perCpuSecond.toLocaleString('en')} per CPU-s (${core.perWallSecond.toLocaleString('en')} per wall-s)`, `>= ${TARGETS.memoHitPerSecond.toLocaleString('en')} /s`, verdict(core.perCpuSecond >= TARGETS.memoHitPerSecond)],
    [
      '1 memo hit, PostgresKeyStore',
      'skipped' in postgres
        ? `skipped: ${postgres.skipped}`
        : `${postgres.requestsPerSecond.toLocaleString('en')} req/s, ${postgres.queriesPerRequest} statements per request (${postgres.inFlight} in flight, pool of ${postgres.poolSize})`,
      'reported',
      'info',
    ],
  ];
  for (const [name, row] of Object.entries(http)) {
    const { ratio, pairedRatio, cpuRatio, bare, keyward } = row;
    rows.push([
      `2 ${name} with/without keyward`,
      `${keyward.requestsPerSecond} / ${bare.requestsPerSecond} req/s = ${round(ratio * 100, 1)}% (round by round: ${round(pairedRatio * 100, 1)}%; p99 ${keyward.latencyP99Ms} / ${bare.latencyP99Ms} ms; server CPU/req ${keyward.serverCpuMicrosPerRequest} / ${bare.serverCpuMicrosPerRequest} µs = ${round(cpuRatio * 100, 1)}%)`,
      `>= ${TARGETS.withKeywardRatio * 100}%`,
      // The issue sets the 85% target for Express and Fastify only; Koa is reported.
      name === 'koa' ? 'info' : verdict(ratio >= TARGETS.withKeywardRatio),
    ]);
    rows.push([
      `2 ${name} floor: the memo's HMAC + a map lookup only`,
      `${row.floor.requestsPerSecond} / ${bare.requestsPerSecond} req/s = ${round(row.floorRatio * 100, 1)}% (server CPU/req ${row.floor.serverCpuMicrosPerRequest} / ${bare.serverCpuMicrosPerRequest} µs = ${round(row.floorCpuRatio * 100, 1)}%)`,
      'reported',
      'info',
    ]);
  }
  rows.push(
    ['3 first-seen key / bare verify', `${cold.firstSeenPoolMedianMs} / ${cold.bareVerifyMedianMs} ms = ${cold.ratio}x`, `<= ${TARGETS.firstSeenRatio}x`, verdict(cold.ratio <= TARGETS.firstSeenRatio)],
    ['4 naive route (verify every request)', `${Math.round(naive.requestsPerSecond)} req/s, p99 ${naive.latencyP99Ms} ms; keyward ${express.keyward.requestsPerSecond} req/s = ${round(express.keyward.requestsPerSecond / naive.requestsPerSecond, 0)}x`, 'baseline', 'info'],
  );
  for (const [name, { keyward, throttleOff, control }] of Object.entries(flooded)) {
    rows.push(
      ...floodRows(`5 ${name} flood`, keyward),
      ...floodRows(`5 ${name} flood, throttle off`, throttleOff),
      [`5 ${name} control: same flood, no keyward`, `valid p99 ${control.validLatencyP99Ms} ms, loop p99 ${control.eventLoopDelayP99Ms} ms, RSS +${control.rssGrowthMB} MB`, 'for comparison', 'info'],
    );
  }

  rows.push([
    '5 forged keys on PostgresKeyStore, one client',
    'skipped' in pgForgeries
      ? `skipped: ${pgForgeries.skipped}`
      : `${pgForgeries.queriesPerForgedRequest} statements per forged request (${pgForgeries.forgedRequests} requests: ${JSON.stringify(pgForgeries.statusCodes)})`,
    'reported',
    'info',
  ]);

  const results = {
    when: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: {
      httpSeconds: SECONDS,
      throughputConnections: THROUGHPUT_CONNECTIONS,
      argon2: 'm=19456,t=2,p=1',
      argon2Pool: 'defaults',
      pinning: PIN ? { serverCpus: SERVER_CPUS, loadCpus: LOAD_CPUS } : 'off',
      measured: 'dist (the build)',
    },
    targets: TARGETS,
    memoHit: core,
    memoHitPostgres: postgres,
    routes: http,
    firstSeen: cold,
    naive: httpRow(naive),
    flood: flooded,
    forgeriesPostgres: pgForgeries,
    loadAverage: { before: loadBefore, after: loadavg().map((value) => round(value)) },
    summary: rows.map(([item, achieved, target, result]) => ({ item, achieved, target, result })),
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  await writeFile(here('./results.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.table(results.summary);
  for (const [name, runs] of Object.entries(flooded)) console.log(`${name} flood details: ${JSON.stringify(runs)}`);
  console.log(`written: bench/results.json (${results.durationSeconds} s)`);
}

await main();
