/**
 * A wire body checked against its endpoint's JSON Schema (wire-schema.ts) before it is routed, so that a
 * malformed body is the router's own NeedError naming the field path (`messages[0].content[1].type`), not
 * the upstream's 422 after a reservation and a round trip. Each schema is compiled once per process (ajv,
 * through the catalogue's compiler); validating a small chat body costs about a microsecond.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { compileSchema } from '../catalog/document.js';
import { NeedError } from '../errors.js';
import { describeReceived } from '../received.js';
import type { WireEndpoint } from './wire.js';
import { WIRE_SCHEMAS } from './wire-schema.js';

const validators: Partial<Record<WireEndpoint, ValidateFunction>> = {};

/** Throws NeedError naming the first field of `body` that does not have the shape Mistral's API takes. */
export function checkWireBody(endpoint: WireEndpoint, body: Record<string, unknown>): void {
  const validate = (validators[endpoint] ??= compileSchema(WIRE_SCHEMAS[endpoint]));
  if (validate(body)) return;
  const error = validate.errors?.[0];
  if (error === undefined) throw new NeedError('body', 'does not have the shape Mistral\'s API takes');
  throw needError(error);
}

/** `/messages/0/content` -> `messages[0].content` (the path a caller reads in its own request). */
function fieldOf(pointer: string, child?: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  if (child !== undefined) out += out === '' ? child : `.${child}`;
  return out === '' ? 'body' : out;
}

function describeTypes(types: string): string {
  return types
    .split(',')
    .map((t) => (t === 'integer' ? 'a whole number' : t === 'null' ? 'null' : t === 'array' ? 'a list' : t === 'object' ? 'an object' : `a ${t}`))
    .join(' or ');
}

function needError(error: ErrorObject): NeedError {
  const params = error.params as Record<string, unknown>;
  const title = (error.parentSchema as { title?: unknown } | undefined)?.title;
  const of = typeof title === 'string' ? ` of ${title}` : '';
  const received = `, received ${describeReceived(error.data)}`;
  switch (error.keyword) {
    case 'required':
      return new NeedError(fieldOf(error.instancePath, String(params.missingProperty)), `missing (required${typeof title === 'string' ? ` in ${title}` : ''})`);
    case 'additionalProperties': {
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return new NeedError(fieldOf(error.instancePath, String(params.additionalProperty)), `unknown field${of}; known: ${known.join(', ')}`);
    }
    case 'type':
      return new NeedError(fieldOf(error.instancePath), `expected ${describeTypes(String(params.type))}${received}`);
    case 'enum':
      return new NeedError(fieldOf(error.instancePath), `expected one of ${(params.allowedValues as unknown[]).join(', ')}${received}`);
    case 'const':
      return new NeedError(fieldOf(error.instancePath), `expected ${JSON.stringify(params.allowedValue)}${received}`);
    case 'minimum':
      return new NeedError(fieldOf(error.instancePath), `expected at least ${String(params.limit)}${received}`);
    default:
      return new NeedError(fieldOf(error.instancePath), `${error.message ?? 'is invalid'}${received}`);
  }
}
