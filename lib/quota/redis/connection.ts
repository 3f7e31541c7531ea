/**
 * The store's connection to Redis: the client (one it owns, or one it was given), the scripts defined on
 * it (EVALSHA, reloaded on NOSCRIPT by ioredis), and every command bounded by `commandTimeoutMs`. Which
 * failures mean "Redis cannot answer now" is decided here too (isUnavailable).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { Deadlines } from '../../deadlines.js';
import { RouterError, StoreUnavailableError } from '../../errors.js';
import { SCRIPTS, type ScriptName } from './scripts/index.js';

type ScriptRunner = (...args: Array<string | number>) => Promise<unknown>;

/** What the connection tells the store. */
export interface ConnectionHooks {
  /** The client (re)connected. */
  onReady(): void;
  /** A command was answered (the first answer after an outage ends it). */
  onAnswer(): void;
}

/** Replies that mean "Redis cannot serve now", as opposed to a bug in a script or a bad argument. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM|NOREPLICAS|MOVED|ASK)\b/;

export class Connection {
  readonly client: Redis | Cluster;
  /** Whether the store created the client (and closes it). */
  readonly owned: boolean;
  /** A Cluster: every script stays within one hash slot (one workspace). */
  readonly cluster: boolean;
  readonly #timeoutMs: number;
  /** Bounds every command by commandTimeoutMs with one timer (a timer per command cost 20-35 µs each). */
  readonly #deadlines: Deadlines;
  readonly #runners: Record<ScriptName, ScriptRunner>;
  readonly #hooks: ConnectionHooks;
  readonly #detach: () => void;
  #closed = false;

  constructor(redis: Redis | Cluster | RedisOptions | string, commandTimeoutMs: number, hooks: ConnectionHooks) {
    this.#timeoutMs = commandTimeoutMs;
    this.#hooks = hooks;
    this.#deadlines = new Deadlines(commandTimeoutMs, () => new StoreUnavailableError(`RedisStore: Redis did not answer within ${commandTimeoutMs} ms.`));
    if (redis instanceof Redis || redis instanceof Cluster) {
      this.client = redis;
      this.owned = false;
    } else {
      // Fail fast instead of queueing: a decision that waits for a reconnect is worse than a typed error the
      // router can wait on within its own bound. Never resend a command after a reconnect: a reserve may
      // already have run, and running it twice would hold the cost twice.
      const defaults: RedisOptions = {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout: commandTimeoutMs,
        retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
      };
      this.client = typeof redis === 'string' ? new Redis(redis, defaults) : new Redis({ ...defaults, ...redis });
      this.owned = true;
    }
    this.cluster = this.client instanceof Cluster;
    this.#runners = defineScripts(this.client);
    const onReady = () => hooks.onReady();
    // Without an 'error' listener ioredis logs every failed reconnect attempt; failures reach callers
    // through the operations instead.
    const onError = () => {};
    this.client.on('ready', onReady);
    this.client.on('error', onError);
    this.#detach = () => {
      this.client.off('ready', onReady);
      // A client the store owns keeps the listener: closing it mid-connect still reports an error.
      if (!this.owned) this.client.off('error', onError);
    };
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a script (KEYS and ARGV as its encoder in protocol.ts built them), bounded by the timeout. */
  run(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const runner = this.#runners[name];
    return this.command(() => runner(keys.length, ...keys, ...args));
  }

  /**
   * Runs a script straight on the client, even while it is not ready, bounded by `ms`: for a cancel, which
   * must follow a request already written to the socket, and which {@link Connection.command} would refuse.
   */
  runRegardless(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>, ms: number): Promise<unknown> {
    return withTimeout(this.#runners[name](keys.length, ...keys, ...args), ms);
  }

  /**
   * Sends one command when Redis is ready, or within `commandTimeoutMs` of a connection attempt in
   * progress; otherwise fails at once. Every outcome is bounded by the timeout.
   */
  async command<T>(send: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('RedisStore: the store is closed.');
    if (!this.ready) await this.#awaitConnection();
    const result = await this.#deadlines.bound(send());
    this.#hooks.onAnswer();
    return result;
  }

  /**
   * Closes the client if the store created it (QUIT lets answers in flight arrive; a client that is not
   * connected has nothing to wait for). A command still unanswered (a client the caller owns) fails now.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#detach();
    if (this.owned) {
      if (this.ready) await withTimeout(this.client.quit(), this.#timeoutMs).catch(() => this.client.disconnect());
      else this.client.disconnect();
    }
    this.#deadlines.clear(() => new StoreUnavailableError('RedisStore: the store was closed before Redis answered.'));
  }

  async #awaitConnection(): Promise<void> {
    const client = this.client;
    const status = client.status;
    if (status === 'wait') client.connect().catch(() => {});
    else if (status !== 'connecting' && status !== 'connect') {
      throw new StoreUnavailableError(`RedisStore: Redis is not connected (${status}).`);
    }
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('close', onClose);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => done();
      const onError = (error: Error) => done(new StoreUnavailableError(`RedisStore: cannot connect to Redis: ${error.message}`, { cause: error }));
      const onClose = () => done(new StoreUnavailableError('RedisStore: the connection to Redis closed.'));
      const timer = setTimeout(() => onError(new Error(`no connection within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('close', onClose);
    });
  }
}

/** True for failures that mean "Redis cannot answer now" (connection, timeout, server busy/loading). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (RouterError.isInstance(error) || error instanceof TypeError) return false;
  if (!(error instanceof Error)) return false;
  // ReplyError is what Redis answered: only a few replies mean the server cannot serve.
  if (error.name === 'ReplyError') return UNAVAILABLE_REPLY.test(error.message);
  return true;
}

function defineScripts(redis: Redis | Cluster): Record<ScriptName, ScriptRunner> {
  const runners = {} as Record<ScriptName, ScriptRunner>;
  for (const [name, lua] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
    // Namespaced so that a client shared with other code (or another copy of this package) keeps its commands.
    const command = `mistralRouter_${name}`;
    if (typeof (redis as unknown as Record<string, unknown>)[command] !== 'function') redis.defineCommand(command, { lua });
    const method = (redis as unknown as Record<string, ScriptRunner>)[command] as ScriptRunner;
    runners[name] = (...args) => method.apply(redis, args);
  }
  return runners;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailableError(`RedisStore: Redis did not answer within ${ms} ms.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
