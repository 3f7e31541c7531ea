/**
 * The Lua scripts of the Redis store, one a file, and the one script made of two (settle + observe).
 */
import { CANCEL_SCRIPT } from './cancel.js';
import { INSPECT_SCRIPT } from './inspect.js';
import { OBSERVE_PIECES } from './observe.js';
import { RESERVE_SCRIPT } from './reserve.js';
import { SETTLE_PIECES } from './settle.js';
import { BASE, WINDOWS } from './shared.js';

export { CANCEL_SCRIPT, INSPECT_SCRIPT, RESERVE_SCRIPT };

/**
 * after a call: settles and releases, then observations, of one tick of one process, in one script (the
 * router settles a call and feeds its response's headers to the store together). Each is applied as
 * consecutive scripts would apply it, settles first, then observations, each kind in call order.
 *
 * ARGV: now ('' = TIME), S (settles and releases), M (observations), then the S settles' arguments, then the
 * M observations'. KEYS: the settles' keys, then the observations'. Returns one number per settle.
 *
 * The settles are in settle.ts, the observations in observe.ts: two fragments of one script rather than two
 * scripts, so that a routed call's settle and its headers cost one round trip between them.
 */
export const AFTER_SCRIPT = `${BASE}${WINDOWS}
local now = now_ms(ARGV[1])
local S, M = tonumber(ARGV[2]), tonumber(ARGV[3])
local a, k = 4, 1
${SETTLE_PIECES}${OBSERVE_PIECES}return out
`;

/** The scripts by the name the store runs them under. */
export const SCRIPTS = {
  reserve: RESERVE_SCRIPT,
  after: AFTER_SCRIPT,
  inspect: INSPECT_SCRIPT,
  cancel: CANCEL_SCRIPT,
} as const;

/** The name of a script. */
export type ScriptName = keyof typeof SCRIPTS;
