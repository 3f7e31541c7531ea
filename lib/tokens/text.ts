/**
 * Counting the raw (uncalibrated) tokens of text: characters weighted by script, and the duration of
 * base64 WAV audio. Pure functions, shared by the estimator and its caches.
 */

const nonAscii = /[^\x00-\x7f]/;

/**
 * Raw tokens of a text: ASCII characters count 1/`charsPerToken` each, other characters below U+2E80
 * (accented Latin, Greek, Cyrillic, Arabic...) twice that, and CJK, kana, Hangul, full-width forms and
 * each half of a surrogate pair (emoji) one token each, since Tekken spends about that on them.
 */
export function scanText(text: string, charsPerToken: number): number {
  // Most prompts are ASCII: the regex test is several times faster than the per-character loop.
  if (!nonAscii.test(text)) return text.length / charsPerToken;
  let units = 0;
  let wide = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) units += 1;
    else if (isWide(code)) wide += 1;
    else units += 2;
  }
  return units / charsPerToken + wide;
}

/** CJK, kana, Hangul, compatibility ideographs, full-width forms, and surrogate halves (emoji, rare CJK). */
function isWide(code: number): boolean {
  return (
    (code >= 0x2e80 && code < 0xa000) ||
    (code >= 0xac00 && code < 0xe000) ||
    (code >= 0xf900 && code < 0xfb00) ||
    (code >= 0xff00 && code < 0xfff0)
  );
}

/** JSON of a value for counting; never throws (cycles, BigInt, throwing toJSON count as their String()). */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    try {
      return String(value);
    } catch {
      return '';
    }
  }
}

/** A short description of a received value for error messages (never the value itself: it may be a prompt). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Duration in seconds of base64 WAV audio (raw base64 or a `data:` URL), from the byte rate in its `fmt `
 * header and the encoded length; undefined for anything else (URLs, compressed formats, broken headers).
 */
export function wavSeconds(audio: string): number | undefined {
  const comma = audio.startsWith('data:') ? audio.indexOf(',') : -1;
  const start = comma + 1;
  // "RIFF" base64-encodes to "UklGR".
  if (!audio.startsWith('UklGR', start)) return undefined;
  const header = Buffer.from(audio.slice(start, start + 48), 'base64');
  if (header.length < 36 || header.toString('latin1', 8, 16) !== 'WAVEfmt ') return undefined;
  const byteRate = header.readUInt32LE(28);
  if (byteRate === 0) return undefined;
  let padding = 0;
  if (audio.endsWith('==')) padding = 2;
  else if (audio.endsWith('=')) padding = 1;
  const bytes = Math.floor(((audio.length - start) * 3) / 4) - padding;
  return Math.max(0, bytes - 44) / byteRate;
}
