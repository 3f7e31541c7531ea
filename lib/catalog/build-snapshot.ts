/** Run by `npm run build`: validates the bundled catalogue and writes its snapshot (see load.ts). */
import { writeBundledSnapshot } from './load.js';

console.log(`catalogue snapshot: ${writeBundledSnapshot()}`);
