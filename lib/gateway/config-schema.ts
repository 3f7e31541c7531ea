/**
 * The JSON Schema of the gateway's configuration file (`mistral-router serve --config FILE`). Every object
 * refuses unknown fields, so a misspelt option is an error at its line, not a default silently kept.
 * Checks the schema cannot express (duplicate key names, a route no model serves, an unset `${ENV}`) are
 * made in config.ts, with the same file-and-line errors.
 */
import { CAPABILITIES } from '../catalog/types.js';
import { STRATEGIES } from '../need.js';
import { MAX_MONTHLY_USD } from '../router/budgets.js';

const wholeNumber = { type: 'integer', minimum: 0 } as const;
const positive = { type: 'integer', minimum: 1 } as const;
const limit = { description: 'a whole number >= 0, or null (unknown: unmetered)', type: ['integer', 'null'], minimum: 0 } as const;
const names = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true } as const;
const usd = { description: 'USD per calendar month (UTC), a finite number >= 0', type: 'number', minimum: 0, maximum: MAX_MONTHLY_USD } as const;
const budget = { type: 'object', additionalProperties: false, required: ['monthlyUsd'], properties: { monthlyUsd: usd } } as const;
/** `${NAME}` or `${NAME:-default}`: a reference to the environment, never the secret itself. */
export const ENV_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/;

const need = {
  type: 'object',
  additionalProperties: false,
  properties: {
    capabilities: { type: 'array', items: { enum: [...CAPABILITIES] }, uniqueItems: true },
    minContext: wholeNumber,
    family: { type: ['string', 'array'], items: { type: 'string', minLength: 1 } },
    version: { type: 'string', minLength: 1 },
    openWeights: { type: 'boolean' },
    prefer: names,
    exclude: names,
    strategy: { enum: [...STRATEGIES] },
    includeDeprecated: { type: 'boolean' },
  },
} as const;

export const gatewayConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mistral-router gateway configuration',
  type: 'object',
  additionalProperties: false,
  required: ['workspaces'],
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        bodyLimitBytes: positive,
        headersTimeoutMs: positive,
        requestTimeoutMs: positive,
        keepAliveTimeoutMs: positive,
        drainTimeoutMs: wholeNumber,
        accessLog: { type: 'boolean' },
        dashboard: { type: 'boolean' },
      },
    },
    store: {
      description: '"memory", a redis:// or rediss:// URL, or { redis: URL, keyPrefix }',
      type: ['string', 'object'],
      pattern: '^(memory|rediss?://.+)$',
      additionalProperties: false,
      required: ['redis'],
      properties: { redis: { type: 'string', pattern: '^rediss?://.+' }, keyPrefix: { type: 'string', minLength: 1 } },
    },
    catalog: {
      type: 'object',
      additionalProperties: false,
      properties: { files: { type: 'array', items: { type: 'string', minLength: 1 } } },
    },
    router: {
      type: 'object',
      additionalProperties: false,
      properties: {
        serverURL: { description: 'an http(s) URL', type: 'string', pattern: '^https?://.+' },
        maxWaitMs: wholeNumber,
        strategy: { enum: [...STRATEGIES] },
        maxAttempts: positive,
        cooldownMs: wholeNumber,
        timeoutMs: positive,
        defaultMaxTokens: wholeNumber,
        fallbacks: { type: 'object', additionalProperties: names },
        budgets: { ...budget, properties: { ...budget.properties, name: { type: 'string', minLength: 1 } } },
      },
    },
    workspaces: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'apiKey', 'tier'],
        properties: {
          name: { description: 'a name not starting with "key:" (the virtual keys\' windows use that prefix)', type: 'string', pattern: '^(?!key:).+$' },
          apiKey: { type: 'string', minLength: 1 },
          tier: { type: 'string', minLength: 1 },
          budgets: budget,
          overrides: {
            type: 'object',
            additionalProperties: false,
            properties: {
              requestsPerSecond: limit,
              models: {
                type: 'object',
                additionalProperties: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { tokensPerMinute: limit, tokensPerMonth: limit },
                },
              },
            },
          },
        },
      },
    },
    routes: {
      type: 'object',
      propertyNames: { description: 'a route name other than "auto"', pattern: '^(?!auto$)[A-Za-z0-9][A-Za-z0-9._:-]*$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { need, maxWaitMs: wholeNumber },
      },
    },
    keys: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1 },
          sha256: { description: 'the SHA-256 of the key, 64 hex digits', type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          key: { description: 'a ${ENV_VAR} reference (the key itself never sits in the file; checked in config.ts)', type: 'string', minLength: 1 },
          routes: names,
          models: names,
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: {
              requestsPerSecond: wholeNumber,
              tokensPerMinute: wholeNumber,
              tokensPerMonth: wholeNumber,
              monthlyUsd: usd,
            },
          },
        },
      },
    },
  },
} as const;
