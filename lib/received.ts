/**
 * How an error message shows a value a caller gave: what it is, never what it is not. A string is quoted
 * (so `"60000"` is told from 60000) and cut at 60 characters (a prompt never lands whole in an error),
 * a number is written as it is (NaN, Infinity), null is null, and other objects are named by kind.
 */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}
