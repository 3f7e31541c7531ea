/**
 * `npm run bench`: every benchmark in turn, each in its own process so that one's heap and JIT state
 * do not colour the next. Each prints medians and ratios against a baseline measured in its own run.
 *
 * Each child is this file with MISTRAL_ROUTER_BENCH_CHILD=<name> in its environment: it imports the benchmark, which either exports a
 * `run...Bench` function (called then; its own "run when executed directly" guard stays quiet) or is a
 * script that runs when imported (bench/emulator.ts, bench/quota-memory.ts, bench/redis-store.ts today).
 * Modules not built yet are skipped. `BENCH_ONLY=router,utilisation` runs a subset.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const benches = ['catalog', 'tokens', 'quota-memory', 'router', 'telemetry', 'emulator', 'utilisation', 'upstream-rule', 'redis-store', 'ai-sdk', 'gateway'];
/** No single benchmark may hold up the run longer than this (a hung Redis, a stuck replay). */
const TIMEOUT_MS = 6 * 60_000;
/** Set in a child: the benchmark it runs. */
const CHILD_ENV = 'MISTRAL_ROUTER_BENCH_CHILD';

/** In a child: import the benchmark (a script runs now) and call its `run...Bench` export if it has one. */
async function child(name: string): Promise<void> {
  const module = (await import(`./${name}.js`)) as Record<string, unknown>;
  const run = Object.entries(module).find(([key, value]) => /^run.*Bench$/.test(key) && typeof value === 'function');
  if (run !== undefined) await (run[1] as () => unknown)();
}

async function parent(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
  const self = fileURLToPath(import.meta.url);
  const started = performance.now();
  const failures: string[] = [];
  console.log(runName());
  for (const name of benches) {
    if (only !== undefined && !only.includes(name)) continue;
    if (!existsSync(fileURLToPath(new URL(`./${name}.js`, import.meta.url)))) {
      console.log(`\n=== ${name}: not built, skipped ===`);
      continue;
    }
    console.log(`\n=== ${name} ===`);
    const t0 = performance.now();
    // This file again, the benchmark named in the environment: no extra argv (the scripts parse theirs)
    // and no --eval/--input-type flags (workers and forks the benchmarks start inherit execArgv).
    const result = await runChild(self, name);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    if (result.status === 0) console.log(`--- ${name}: ${seconds} s`);
    else {
      const why = result.timedOut ? `timed out after ${TIMEOUT_MS / 1000} s` : result.signal !== null ? `killed by ${result.signal}` : `exit code ${result.status}`;
      console.log(`--- ${name}: FAILED after ${seconds} s (${why})`);
      failures.push(name);
    }
  }
  console.log(`\nall benchmarks: ${((performance.now() - started) / 1000).toFixed(1)} s${failures.length > 0 ? `; failed: ${failures.join(', ')}` : ''}; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

/**
 * One benchmark in a process group of its own: on timeout the whole group is killed, so the servers a
 * benchmark started (bench/gateway.ts runs an emulator and a gateway as processes) do not outlive it.
 */
function runChild(self: string, name: string): Promise<{ status: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', self], { stdio: 'inherit', env: { ...process.env, [CHILD_ENV]: name }, detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }, TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, timedOut });
    });
  });
}

/** What names this run where its figures are quoted: when, which commit, which Node, how busy the machine was. */
function runName(): string {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const commit = git.status === 0 ? git.stdout.trim() : 'unknown commit';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout?.trim() ? ' (with uncommitted changes)' : '';
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  return `npm run bench: ${new Date().toISOString()}, commit ${commit}${dirty}, Node ${process.version}, ${cpus().length} cores, load average ${load}`;
}

const childName = process.env[CHILD_ENV];
if (childName !== undefined && childName !== '') await child(childName);
else await parent();
