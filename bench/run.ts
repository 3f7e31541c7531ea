/**
 * `npm run bench`: every benchmark in turn, each in its own process so that one's heap and JIT state
 * do not colour the next. Each prints medians and ratios against a baseline measured in its own run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benches = ['catalog', 'tokens', 'quota-memory', 'router', 'emulator', 'utilisation', 'redis-store'];
let failed = 0;
for (const name of benches) {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (!existsSync(file)) continue;
  console.log(`\n=== ${name} ===`);
  const script = `const m = await import(${JSON.stringify(`file://${file}`)}); const run = Object.entries(m).find(([k, v]) => /^run.*Bench$/.test(k) && typeof v === 'function'); if (run && !process.env.BENCH_SELF_RUN) await run[1]();`;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { stdio: 'inherit', env: process.env });
  if (child.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
