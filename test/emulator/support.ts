/**
 * Helpers shared by the emulator's tests: raw HTTP calls (for headers and exact bodies) next to the SDK.
 */
import { Mistral } from '@mistralai/mistralai';
import type { Emulator } from '../../lib/emulator/index.js';

/** A raw response: status, headers, and the body as text and (when it is JSON) parsed. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

/** POST a JSON body (or a raw string) with fetch, bypassing the SDK; `apiKey: null` sends no Authorization. */
export async function post(emulator: Emulator, path: string, body: unknown, apiKey: string | null = 'workspace-a'): Promise<RawResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey !== null) headers['authorization'] = `Bearer ${apiKey}`;
  const response = await fetch(`${emulator.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A chat request body with one short user message. */
export function chatBody(model: string, maxTokens?: number): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content: 'hello' }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) };
}

/** The real SDK pointed at the emulator (retries off, as the router uses it). */
export function sdk(emulator: Emulator, apiKey = 'workspace-a'): Mistral {
  return new Mistral({ apiKey, serverURL: emulator.url });
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { statusCode?: number; body?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { statusCode?: number; body?: string };
  }
  throw new Error('expected the call to fail, it succeeded');
}
