/**
 * One catalogue file: YAML parsed with positions kept, validated against its JSON Schema, and every
 * problem turned into a {@link CatalogError} that names the file, the line and the field.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, ValidateFunction } from 'ajv';
import type { Document, LineCounter } from 'yaml';
import { CatalogError, type CatalogErrorLocation, type RouterError, type RouterErrorCode, type RouterErrorOptions } from '../errors.js';

// yaml and ajv are loaded on first use: the bundled catalogue normally comes from its build-time
// snapshot (load.ts), and loading these two modules would cost more than the whole catalogue load.
const require = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlModule ??= require('yaml') as typeof import('yaml'));
}

/**
 * How a document's problems become errors: a CatalogError by default; the gateway's configuration file
 * (lib/gateway/config.ts) reads YAML the same way and reports a ConfigFileError instead.
 */
export type LocatedErrorFactory = (code: RouterErrorCode, message: string, location: CatalogErrorLocation, options?: RouterErrorOptions) => RouterError;

const catalogError: LocatedErrorFactory = (code, message, location, options) => new CatalogError(code, message, location, options);

/** The source text of a catalogue file, read from disk or given in memory. */
export interface CatalogSource {
  /** Name used in error messages (a path, or a label such as `<bundled>/models.yaml`). */
  readonly name: string;
  readonly text: string;
}

/** What the merge step needs of a file: its name, its data, and errors located in it. */
export interface CatalogInput {
  readonly name: string;
  readonly data: unknown;
  error(code: RouterErrorCode, message: string, pointer: string, key?: string): RouterError;
}

/** A parsed file that can locate any JSON pointer in its source text. */
export class CatalogDocument implements CatalogInput {
  readonly name: string;
  readonly data: unknown;
  readonly #document: Document.Parsed;
  readonly #lines: LineCounter;
  readonly #fail: LocatedErrorFactory;

  private constructor(name: string, document: Document.Parsed, lines: LineCounter, fail: LocatedErrorFactory) {
    this.name = name;
    this.#document = document;
    this.#lines = lines;
    this.#fail = fail;
    this.data = document.toJS({ maxAliasCount: 100 });
  }

  /**
   * Parse YAML; syntax errors (including duplicate keys) throw CATALOG_SYNTAX at their line, and a number
   * that cannot be a count (`.inf`, `.nan`, `1e400`, anything past Number.MAX_SAFE_INTEGER) throws
   * CATALOG_SCHEMA at its line, quoting the text received: YAML reads those as Infinity, NaN or a rounded
   * float, which a schema check would report as `null` or accept as a different number.
   */
  static parse(source: CatalogSource, fail: LocatedErrorFactory = catalogError): CatalogDocument {
    const { LineCounter, parseDocument, visit } = yaml();
    const lines = new LineCounter();
    const document = parseDocument(source.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const first = document.errors[0];
    if (first !== undefined) {
      const pos = lines.linePos(first.pos[0]);
      const message = first.message.split('\n')[0] ?? first.message;
      throw fail('CATALOG_SYNTAX', `YAML syntax error: ${message}`, { file: source.name, line: pos.line, column: pos.col }, { cause: first });
    }
    visit(document, {
      Scalar(_key, node) {
        if (typeof node.value !== 'number' || Number.isSafeInteger(node.value) || (Number.isFinite(node.value) && Math.abs(node.value) <= Number.MAX_SAFE_INTEGER)) return;
        const range = node.range ?? [0, 0];
        const text = source.text.slice(range[0], range[1]).trim();
        const pos = lines.linePos(range[0]);
        const why = Number.isFinite(node.value) ? `beyond Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}): it would be read as ${node.value}` : 'not a finite number';
        throw fail('CATALOG_SCHEMA', `number out of range: received ${text}, ${why}`, { file: source.name, line: pos.line, column: pos.col });
      },
    });
    try {
      return new CatalogDocument(source.name, document, lines, fail);
    } catch (error) {
      throw fail('CATALOG_SYNTAX', `YAML could not be read: ${(error as Error).message}`, { file: source.name }, { cause: error });
    }
  }

  /** Read and parse a file from disk; an unreadable file throws CATALOG_FILE. */
  static read(path: string, fail: LocatedErrorFactory = catalogError): CatalogDocument {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw fail('CATALOG_FILE', `cannot read the ${fail === catalogError ? 'catalogue' : 'configuration'} file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { file: path }, { cause: error });
    }
    return CatalogDocument.parse({ name: path, text: decodeUtf8(bytes, path, fail) }, fail);
  }

  /**
   * The line of a JSON pointer. With `key`, the line of that property's key inside the object at the
   * pointer (for unknown fields); a pointer to something absent falls back to its nearest parent.
   */
  lineOf(pointer: string, key?: string): number | undefined {
    const path = pointer === '' ? [] : pointer.slice(1).split('/').map(unescapePointer);
    for (let depth = path.length; depth >= 0; depth--) {
      const segments = path.slice(0, depth).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const node = depth === 0 ? this.#document.contents : this.#document.getIn(segments, true);
      const { isMap, isNode, isScalar } = yaml();
      if (!isNode(node) || node.range == null) continue;
      if (key !== undefined && depth === path.length && isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
        if (pair !== undefined && isNode(pair.key) && pair.key.range != null) return this.#lines.linePos(pair.key.range[0]).line;
      }
      return this.#lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** An error (a CatalogError unless parsed with another factory) located at a JSON pointer of this file. */
  error(code: RouterErrorCode, message: string, pointer: string, key?: string): RouterError {
    const fieldPointer = key === undefined ? pointer : `${pointer}/${escapePointer(key)}`;
    return this.#fail(code, message, { file: this.name, line: this.lineOf(pointer, key), pointer: fieldPointer });
  }

  /**
   * Validate against a compiled schema; the first error (in document order) is thrown. The value received
   * is quoted in the message, except at the pointers in `unquoted` (values filled in from the environment,
   * which may be secrets).
   */
  validate(validator: ValidateFunction, data: unknown = this.data, unquoted?: ReadonlySet<string>): void {
    if (validator(data)) return;
    const errors = validator.errors ?? [];
    // Report the most specific error: `oneOf` summaries hide the branch that explains the problem, and
    // in a `null or object` field the object branch's complaint (an unknown field) explains more than `type`.
    const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
    const error = specific.find((e) => e.keyword !== 'type' && specific.some((t) => t.keyword === 'type' && t.instancePath === e.instancePath)) ?? specific[0] ?? errors[0];
    if (error === undefined) throw this.error('CATALOG_SCHEMA', 'does not match its schema', '');
    const key = error.keyword === 'additionalProperties' ? String(error.params.additionalProperty) : undefined;
    throw this.error('CATALOG_SCHEMA', describeSchemaError(unquoted?.has(error.instancePath) === true ? { ...error, data: undefined } : error), error.instancePath, key);
  }
}

/**
 * The text of a file's bytes, refusing invalid UTF-8 (CATALOG_ENCODING at the line of the first bad byte)
 * rather than reading it with replacement characters, which would change ids and names without a word.
 */
export function decodeUtf8(bytes: Buffer, name: string, fail: LocatedErrorFactory = catalogError): string {
  const text = bytes.toString('utf8');
  if (!text.includes('\uFFFD')) return text;
  // Re-encoded, the text equals the bytes up to the first invalid sequence (replaced by EF BF BD).
  const again = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length && bytes[offset] === again[offset]) offset++;
  if (offset >= bytes.length && again.length === bytes.length) return text; // U+FFFD written as such
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const byte = (bytes[offset] ?? 0).toString(16).padStart(2, '0');
  throw fail('CATALOG_ENCODING', `invalid UTF-8: byte 0x${byte} at offset ${offset} is not part of a valid character; save the file as UTF-8`, { file: name, line, column: offset - lineStart + 1 });
}

let ajv: AjvClass | undefined;
const compiled = new Map<object, ValidateFunction>();

/** Compile a schema once per process (ajv compilation costs far more than validation). */
export function compileSchema(schema: object): ValidateFunction {
  let validator = compiled.get(schema);
  if (validator === undefined) {
    ajv ??= new (require('ajv') as { Ajv: typeof AjvClass }).Ajv({ allErrors: false, verbose: true, strict: true, allowUnionTypes: true });
    // The same schema read again (another object, the same `$id`) is the one ajv holds: ajv refuses a second `$id`.
    const id = (schema as { $id?: unknown }).$id;
    validator = (typeof id === 'string' ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema);
    compiled.set(schema, validator);
  }
  return validator;
}

function describeSchemaError(error: ErrorObject): string {
  const field = error.instancePath === '' ? 'the file' : `field ${error.instancePath.split('/').filter(Boolean).map(unescapePointer).join('.')}`;
  const received = error.data === undefined ? '' : `, received ${describeValue(error.data)}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field}: missing required field "${String(params.missingProperty)}"`;
    case 'additionalProperties':
      return `${field}: unknown field "${String(params.additionalProperty)}" (check its spelling against the schema)`;
    case 'enum':
      return `${field}: expected one of ${(params.allowedValues as unknown[]).join(', ')}${received}`;
    case 'const':
      return `${field}: expected ${JSON.stringify(params.allowedValue)}${received}`;
    case 'type':
      return `${field}: expected ${describeType(String(params.type))}${received}`;
    case 'minimum':
      return `${field}: expected a number >= ${String(params.limit)}${received}`;
    case 'pattern': {
      const description = (error.parentSchema as { description?: string } | undefined)?.description;
      return `${field}: expected ${description ?? `a string matching ${String(params.pattern)}`}${received}`;
    }
    case 'uniqueItems':
      return `${field}: items must be unique (items ${String(params.j)} and ${String(params.i)} are the same)`;
    case 'minItems':
      return `${field}: expected at least ${String(params.limit)} item(s)`;
    default:
      return `${field}: ${error.message ?? 'is invalid'}${received}`;
  }
}

/** A received value as a message shows it: JSON, except the numbers JSON cannot write (Infinity, NaN). */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return (JSON.stringify(value) ?? String(value)).slice(0, 80);
}

function describeType(type: string): string {
  return type
    .split(',')
    .map((t) => (t === 'integer' ? 'a whole number' : t === 'null' ? 'null' : `a ${t}`))
    .join(' or ');
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
