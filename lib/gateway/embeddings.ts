/**
 * Embeddings asked for as `encoding_format: "base64"` (what the `openai` client asks for by default). The
 * SDK the router calls through parses embeddings as lists of numbers only, so the gateway asks the upstream
 * for numbers and encodes each vector itself: little-endian float32 for `float` (OpenAI's and Mistral's
 * base64), one byte per component for the integer dtypes.
 */

/** How to encode: the request's `output_dtype` (default `float`). */
export interface EmbeddingsEncoding {
  readonly dtype: string;
}

function encode(vector: readonly number[], dtype: string): string {
  if (dtype === 'int8' || dtype === 'binary') return Buffer.from(Int8Array.from(vector).buffer).toString('base64');
  if (dtype === 'uint8' || dtype === 'ubinary') return Buffer.from(Uint8Array.from(vector)).toString('base64');
  const floats = Float32Array.from(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

/** Replaces every `data[i].embedding` of a wire response by its base64 text, in place. */
export function encodeEmbeddings(wire: Record<string, unknown>, encoding: EmbeddingsEncoding): void {
  const data = wire.data;
  if (!Array.isArray(data)) return;
  for (const item of data as { embedding?: unknown }[]) {
    if (Array.isArray(item.embedding)) item.embedding = encode(item.embedding as number[], encoding.dtype);
  }
}
