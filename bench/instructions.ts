/**
 * `npm run bench:instructions`: the machine instructions one request costs a server, bare, with
 * keyward and at the floor (see bench/frameworks.ts), counted by valgrind's callgrind. Unlike
 * requests per second, a count does not depend on what else the machine is doing, so it shows
 * what keyward adds where a shared machine's noise hides it. It says nothing of caches or
 * memory stalls, so it complements the timed benchmark and does not replace it.
 *
 * Each server runs under callgrind (about fifty times slower), serves WARM_REQUESTS so that V8
 * has optimized the request path, then has its counters zeroed, serves MEASURED_REQUESTS, and
 * has them dumped. Needs valgrind (Debian's package). Writes bench/instructions.json.
 * Environment: INSTRUCTIONS_FRAMEWORKS (comma-separated; default express,fastify).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteForm } from './frameworks.js';
import type { LoadJob, LoadSummary } from './load.js';
import type { ServerMessage } from './server.js';

const WARM_REQUESTS = 10_000;
const MEASURED_REQUESTS = 5_000;
const FORMS: readonly RouteForm[] = ['bare', 'keyward', 'floor'];
const FRAMEWORKS = (process.env.INSTRUCTIONS_FRAMEWORKS ?? 'express,fastify').split(',');
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function requireCallgrind(): void {
  for (const tool of ['valgrind', 'callgrind_control']) {
    if (spawnSync(tool, ['--version']).error) {
      console.error(`bench:instructions needs ${tool} (Debian: apt-get install valgrind)`);
      process.exit(2);
    }
  }
}

async function nextMessage<T>(child: ChildProcess): Promise<T> {
  const [message] = (await once(child, 'message')) as [T];
  return message;
}

async function load(job: LoadJob): Promise<LoadSummary> {
  const child = fork(here('./load.ts'), [], { execArgv: ['--import', 'tsx'] });
  child.send(job);
  const summary = await nextMessage<LoadSummary>(child);
  await once(child, 'exit');
  return summary;
}

/** Instructions a request of `form` costs the server, counted over MEASURED_REQUESTS. */
async function instructionsPerRequest(framework: string, form: RouteForm, outDir: string): Promise<number> {
  const outFile = join(outDir, `${framework}-${form}`);
  // fork() starts `execPath ...execArgv file ...args`: valgrind then runs node in this very
  // process, so the IPC channel passes through. --smc-check: V8 writes the code it runs.
  const server = fork(here('./server.ts'), [framework, form, '{}'], {
    execPath: 'valgrind',
    execArgv: ['--quiet', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${outFile}.%p`, process.execPath, '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await nextMessage<Extract<ServerMessage, { type: 'ready' }>>(server);
  const job = { port: ready.port, connections: 10, seconds: 0, key: ready.key };
  await load({ ...job, requests: WARM_REQUESTS });
  spawnSync('callgrind_control', ['--zero', String(server.pid)]);
  const measured = await load({ ...job, requests: MEASURED_REQUESTS });
  spawnSync('callgrind_control', ['--dump', String(server.pid)]);
  const exited = once(server, 'exit');
  server.send({ type: 'stop' });
  await exited;
  if (measured.statusCodes['200'] !== MEASURED_REQUESTS) throw new Error(`${framework} ${form}: ${JSON.stringify(measured.statusCodes)}`);
  const dump = readdirSync(outDir).find((name) => name.startsWith(`${framework}-${form}.`) && name.endsWith('.1'));
  const summary = /^summary: (\d+)$/m.exec(readFileSync(join(outDir, dump!), 'utf8'));
  return Math.round(Number(summary![1]) / MEASURED_REQUESTS);
}

async function main(): Promise<void> {
  requireCallgrind();
  const outDir = mkdtempSync(join(tmpdir(), 'keyward-callgrind-'));
  const results: Record<string, Record<string, number | string>> = {};
  try {
    for (const framework of FRAMEWORKS) {
      const counts: Record<string, number> = {};
      for (const form of FORMS) {
        console.error(`[bench:instructions] ${framework} ${form}`);
        counts[form] = await instructionsPerRequest(framework, form, outDir);
      }
      results[framework] = {
        ...counts,
        keywardRatio: `${((counts.bare! / counts.keyward!) * 100).toFixed(1)}%`,
        floorRatio: `${((counts.bare! / counts.floor!) * 100).toFixed(1)}%`,
      };
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  const report = {
    when: new Date().toISOString(),
    machine: { model: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: { warmRequests: WARM_REQUESTS, measuredRequests: MEASURED_REQUESTS, tool: 'valgrind --tool=callgrind' },
    instructionsPerRequest: results,
  };
  await writeFile(here('./instructions.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.table(results);
  console.log('written: bench/instructions.json');
}

await main();
