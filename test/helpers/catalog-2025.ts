/**
 * The catalogue of mid-2025 (test/fixtures/models-2025.yaml with the bundled tiers): what the tests of
 * routing and metering mechanics pin, so that a change of Mistral's lineup does not move their assertions.
 */
import { fileURLToPath } from 'node:url';
import { bundledCatalogDirectory, loadCatalog } from '../../lib/catalog/index.js';

/** The fixture's path (the compiled tests run from dist/test, the fixture stays in test/fixtures). */
export const models2025Path = fileURLToPath(new URL('../../../test/fixtures/models-2025.yaml', import.meta.url));

/** The mid-2025 models with the bundled tiers. */
export const catalog2025 = loadCatalog({ bundled: false, files: [models2025Path, `${bundledCatalogDirectory}tiers.yaml`] });
