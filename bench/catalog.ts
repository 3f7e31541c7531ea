/**
 * Benchmark: loadCatalog() of the bundled files (issue 2 target: well under 50 ms), and the merge of a
 * `GET /v1/models` list of 100 cards over it (issue 16 target: under 5 ms), with the day's lifecycle.
 * Reports the first call in a fresh process (cold: what a CLI start pays), the warm median, the slow
 * path that parses and validates the YAML (what an edited bundled file or a user file costs), and a
 * baseline of JSON.parse of the same data in the same run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledCatalogDirectory, loadCatalog, mergeCatalogCards, modelCard, type ModelCard } from '../lib/catalog/index.js';
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
  runMergeBench();
}

/**
 * 100 cards as a workspace's list holds them: every bundled model's card and its aliases' cards (as the
 * emulator writes them, which is Mistral's shape), topped up with models the catalogue does not know.
 */
function hundredCards(): ModelCard[] {
  const catalog = loadCatalog();
  const cards: ModelCard[] = [];
  for (const model of catalog.models) {
    cards.push(modelCard(model, model.id, 0, model.aliases));
    for (const alias of model.aliases) cards.push(modelCard(model, alias, 0, [model.id]));
  }
  for (let i = 0; cards.length < 100; i++) {
    cards.push({ id: `ft:mistral-small-2603:bench:${i}`, name: `ft:mistral-small-2603:bench:${i}`, max_context_length: 262_144, capabilities: { completion_chat: true, function_calling: true } });
  }
  return cards.slice(0, 100);
}

function runMergeBench(): void {
  const catalog = loadCatalog();
  const cards = hundredCards();
  const text = JSON.stringify({ object: 'list', data: cards });
  const now = Date.UTC(2026, 11, 7);
  for (let i = 0; i < 20; i++) mergeCatalogCards(catalog, cards, { workspace: 'bench', now });
  const merge = timeMs(() => mergeCatalogCards(catalog, cards, { workspace: 'bench', now }), 200);
  const parse = timeMs(() => JSON.parse(text), 200);
  // A new day's lifecycle is computed once; every decision of that day then reads the cached view.
  let day = now;
  const newDay = timeMs(() => catalog.lifecycleOn((day += 86_400_000)), 200);
  const sameDay = timeMs(() => {
    for (let i = 0; i < 1_000; i++) catalog.lifecycleOn(day + i);
  }, 200);
  const fmt = (n: number) => `${n.toFixed(3)} ms`;
  const { issues } = mergeCatalogCards(catalog, cards, { workspace: 'bench', now });
  console.log(`catalogue: mergeCatalogCards() of ${cards.length} /v1/models cards over the bundled catalogue (${issues.length} issues)`);
  console.log(`  merge                               median ${fmt(median(merge))}  p99 ${fmt(percentile(merge, 99))}  target < 5 ms: ${median(merge) < 5 ? 'met' : 'NOT met'}`);
  console.log(`  baseline JSON.parse of the list     median ${fmt(median(parse))}  -> merge / baseline = ${(median(merge) / median(parse)).toFixed(1)}x`);
  console.log(`  lifecycleOn(a new day)              median ${fmt(median(newDay))}`);
  console.log(`  lifecycleOn(same day) per call      median ${((median(sameDay) / 1_000) * 1e6).toFixed(1)} ns (what a decision pays)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await runCatalogBench();
