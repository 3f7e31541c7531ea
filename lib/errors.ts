/**
 * Every error mistral-router throws on purpose is a {@link RouterError} with a stable string `code`.
 * Subclasses carry structured fields; `cause` is kept. No message, field or cause of these errors
 * ever contains an API key: messages name workspaces, never keys.
 *
 * Each class has its own `Symbol.for('mistral-router.error.<Class>')` marker and a static `isInstance`
 * reading it, so that `NeedError.isInstance(e)` works across two copies of the package (a bundled one and
 * a hoisted one), where `instanceof` would not; `RouterError.isInstance` is true for every class.
 * Constructors take one object of named fields (the positional forms are kept for existing callers).
 */
export * from './errors/base.js';
export * from './errors/input.js';
export * from './errors/routing.js';
export * from './errors/failures.js';
