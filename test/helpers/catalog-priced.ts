/**
 * The priced test catalogue (test/fixtures/models-priced.yaml and tiers-priced.yaml): made-up models with
 * round prices and one without, under a tier with no limits, for the cost, `cheapest` and budget tests.
 */
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../lib/catalog/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

/** lean-chat (0.2/0.6), wide-chat (0.1/0.3), premium-chat (2/6), unpriced-chat (no price), plain-embed (0.1 input). */
export const catalogPriced = loadCatalog({ bundled: false, files: [fixture('models-priced.yaml'), fixture('tiers-priced.yaml')] });
