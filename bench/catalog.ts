/**
 * Benchmark: loadCatalog() of the bundled files (issue 2 target: well under 50 ms).
 * Reports the first call in a fresh process (cold: what a CLI start pays), the warm median, the slow
 * path that parses and validates the YAML (what an edited bundled file or a user file costs), and a
 * baseline of JSON.parse of the same data in the same run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledCatalogDirectory, loadCatalog } from '../lib/catalog/index.js';
import { median, percentile } from './stats.js';

function timeMs(fn: () => void, runs: number): number[] {
  const sample: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    sample.push(performance.now() - t0);
  }
  return sample;
}

export async function runCatalogBench(): Promise<void> {
  const loadModule = fileURLToPath(new URL('../lib/catalog/index.js', import.meta.url));
  const coldScript = `const t=performance.now();const m=await import(${JSON.stringify(loadModule)});const a=performance.now();m.loadCatalog();console.log(JSON.stringify({importMs:a-t,loadMs:performance.now()-a}))`;
  const cold: { importMs: number; loadMs: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', coldScript], { encoding: 'utf8' });
    cold.push(JSON.parse(child.stdout) as { importMs: number; loadMs: number });
  }
  const warm = timeMs(() => loadCatalog(), 200);
  const texts = ['models.yaml', 'tiers.yaml'].map((f) => readFileSync(`${bundledCatalogDirectory}${f}`, 'utf8'));
  const slow = timeMs(() => loadCatalog({ bundled: false, sources: texts.map((text, i) => ({ name: `bundled-${i}.yaml`, text })) }), 30);
  const json = JSON.stringify(loadCatalog().models);
  const baseline = timeMs(() => JSON.parse(json), 200);
  const fmt = (n: number) => `${n.toFixed(2)} ms`;
  console.log('catalogue: loadCatalog() of the bundled files');
  console.log(`  cold (fresh process, first call)    median ${fmt(median(cold.map((c) => c.loadMs)))}  (module import ${fmt(median(cold.map((c) => c.importMs)))})`);
  console.log(`  warm                                median ${fmt(median(warm))}  p99 ${fmt(percentile(warm, 99))}`);
  console.log(`  slow path (parse YAML + validate)   median ${fmt(median(slow))}  p99 ${fmt(percentile(slow, 99))}`);
  console.log(`  baseline JSON.parse of the models   median ${fmt(median(baseline))}  -> warm load / baseline = ${(median(warm) / median(baseline)).toFixed(1)}x`);
}

if (import.meta.url === `file://${process.argv[1]}`) await runCatalogBench();
