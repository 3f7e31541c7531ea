/**
 * Checks of every quota input, shared by the stores: window specs, candidates, reserve requests, settled
 * counts and upstream observations. A bad value raises QUOTA_INVALID naming its field, before anything
 * is applied, so a bad call changes nothing.
 */
import { RouterError } from '../errors.js';
import type { QuotaCandidate, ReserveRequest, UpstreamObservation, WindowObservation, WindowPeriod, WindowSpec, WindowUnit } from './types.js';

/** The periods a window may have; anything else is refused with QUOTA_INVALID. */
export const WINDOW_PERIODS: readonly WindowPeriod[] = ['second', 'minute', 'month', 'rolling-30d'];

/** The units a window may count. */
export const WINDOW_UNITS: readonly WindowUnit[] = ['requests', 'tokens'];

/** The scopes a window may have. */
export const WINDOW_SCOPES = ['workspace', 'model'] as const;

/**
 * Build the error every bad quota input raises: a RouterError with code `QUOTA_INVALID` whose message
 * starts with the field, so a caller can tell which of its values was wrong.
 */
export function quotaInvalid(field: string, message: string): RouterError {
  return new RouterError('QUOTA_INVALID', `${field}: ${message}`);
}

/**
 * Check a window spec once (candidates are resolved and cached by object, so this is off the hot path).
 * `field` names where the spec came from, e.g. `candidates[0].windows[2]`.
 */
export function validateWindowSpec(spec: WindowSpec, field: string): void {
  if (spec === null || typeof spec !== 'object') throw quotaInvalid(field, 'must be a window spec object');
  if (typeof spec.kind !== 'string' || spec.kind === '') throw quotaInvalid(`${field}.kind`, `must be a non-empty string, received ${JSON.stringify(spec.kind)}`);
  if (!WINDOW_PERIODS.includes(spec.period)) {
    throw quotaInvalid(`${field}.period`, `unknown window period ${JSON.stringify(spec.period)}; expected one of ${WINDOW_PERIODS.join(', ')}`);
  }
  if (!WINDOW_UNITS.includes(spec.unit)) throw quotaInvalid(`${field}.unit`, `unknown unit ${JSON.stringify(spec.unit)}; expected requests or tokens`);
  if (!WINDOW_SCOPES.includes(spec.scope)) throw quotaInvalid(`${field}.scope`, `unknown scope ${JSON.stringify(spec.scope)}; expected workspace or model`);
  if (spec.limit !== null && !isCount(spec.limit)) {
    throw quotaInvalid(`${field}.limit`, `must be null (unknown) or an integer >= 0, received ${String(spec.limit)}`);
  }
}

/** Check one candidate: names, and windows with no kind twice at the same scope (it would be charged twice). */
export function validateCandidate(candidate: QuotaCandidate, field: string): void {
  if (candidate === null || typeof candidate !== 'object') throw quotaInvalid(field, 'must be a candidate object');
  if (typeof candidate.workspace !== 'string' || candidate.workspace === '') throw quotaInvalid(`${field}.workspace`, 'must be a non-empty string');
  if (typeof candidate.model !== 'string' || candidate.model === '') throw quotaInvalid(`${field}.model`, 'must be a non-empty string');
  if (!Array.isArray(candidate.windows)) throw quotaInvalid(`${field}.windows`, 'must be an array of window specs');
  const seen = new Set<string>();
  candidate.windows.forEach((spec, i) => {
    validateWindowSpec(spec, `${field}.windows[${i}]`);
    const id = `${spec.scope}:${spec.kind}`;
    if (seen.has(id)) throw quotaInvalid(`${field}.windows[${i}].kind`, `window ${JSON.stringify(spec.kind)} appears twice for scope ${spec.scope}`);
    seen.add(id);
  });
}

/** True for an integer >= 0 that a double holds exactly. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Check the scalar parts of a reserve request (cheap enough for every call; candidates are checked
 * by {@link validateCandidate} when first seen). Returns the request count, defaulting to 1.
 */
export function validateReserveRequest(request: ReserveRequest): number {
  if (request === null || typeof request !== 'object') throw quotaInvalid('request', 'must be a reserve request object');
  if (!isCount(request.tokens)) throw quotaInvalid('tokens', `must be an integer >= 0, received ${String(request.tokens)}`);
  if (request.fitTokens !== undefined && !(isCount(request.fitTokens) && request.fitTokens <= request.tokens)) {
    throw quotaInvalid('fitTokens', `must be an integer in [0, tokens = ${String(request.tokens)}], received ${String(request.fitTokens)}`);
  }
  const requests = request.requests ?? 1;
  if (!isCount(requests)) throw quotaInvalid('requests', `must be an integer >= 0, received ${String(request.requests)}`);
  if (!Array.isArray(request.candidates) || request.candidates.length === 0) {
    throw quotaInvalid('candidates', 'must be a non-empty array: there is nothing to reserve on');
  }
  return requests;
}

/** Check the actual token count given to settle. */
export function validateActualTokens(actualTokens: number): void {
  if (!isCount(actualTokens)) throw quotaInvalid('actualTokens', `must be an integer >= 0, received ${String(actualTokens)}`);
}

/** Check an observation before any of it is applied, so a bad one changes nothing. */
export function validateObservation(observation: UpstreamObservation): void {
  if (observation === null || typeof observation !== 'object') throw quotaInvalid('observation', 'must be an UpstreamObservation object');
  if (typeof observation.workspace !== 'string' || observation.workspace === '') throw quotaInvalid('observation.workspace', 'must be a non-empty string');
  if (typeof observation.model !== 'string' || observation.model === '') throw quotaInvalid('observation.model', 'must be a non-empty string');
  if (!Array.isArray(observation.windows)) throw quotaInvalid('observation.windows', 'must be an array');
  observation.windows.forEach((window: WindowObservation, i) => {
    const field = `observation.windows[${i}]`;
    validateWindowSpec({ ...window, limit: null }, field);
    for (const key of ['limit', 'remaining', 'resetMs'] as const) {
      const value = window[key];
      if (value !== undefined && !isCount(value)) throw quotaInvalid(`${field}.${key}`, `must be an integer >= 0, received ${String(value)}`);
    }
  });
  observation.windows.forEach((window, i) => validateRule(window.rule, `observation.windows[${i}].rule`));
  const { rateLimited } = observation;
  if (rateLimited !== undefined) {
    if (rateLimited === null || typeof rateLimited !== 'object') throw quotaInvalid('observation.rateLimited', 'must be an object');
    const { blockedForMs, kind } = rateLimited;
    if (typeof blockedForMs !== 'number' || !Number.isFinite(blockedForMs) || blockedForMs < 0) {
      throw quotaInvalid('observation.rateLimited.blockedForMs', `must be a finite number >= 0, received ${String(blockedForMs)}`);
    }
    if (kind !== undefined && (typeof kind !== 'string' || kind === '')) throw quotaInvalid('observation.rateLimited.kind', 'must be a non-empty string when given');
  }
}

/** Check a learned window rule (undefined: none given; null: back to the default). */
function validateRule(rule: WindowObservation['rule'], field: string): void {
  if (rule === undefined || rule === null) return;
  if (typeof rule !== 'object' || (rule.kind !== 'sliding' && rule.kind !== 'fixed')) throw quotaInvalid(`${field}.kind`, "must be 'sliding' or 'fixed'");
  if (rule.kind === 'fixed') {
    for (const key of ['phaseMs', 'uncertaintyMs', 'probeMs'] as const) {
      const value = rule[key];
      if (key === 'probeMs' && value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw quotaInvalid(`${field}.${key}`, `must be a finite number >= 0, received ${String(value)}`);
    }
  }
}
