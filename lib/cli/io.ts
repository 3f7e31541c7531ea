/**
 * What a CLI command writes to. Commands take it as a parameter so that tests capture the output
 * instead of spawning a process.
 */
export interface CliIO {
  /** Write to standard output (no newline added). */
  readonly out: (text: string) => void;
  /** Write to standard error (no newline added). */
  readonly err: (text: string) => void;
}

export const processIO: CliIO = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Exit codes: 0 ok, 1 the job failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command: parses its own arguments (node:util parseArgs, strict) and returns an exit code. */
export type CliCommand = (args: readonly string[], io: CliIO) => Promise<number>;

/** Thrown by a command's argument parsing; main prints the message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs a long-lived command (a server) until SIGINT or SIGTERM aborts the signal it is given. */
export async function untilSignal(run: (stop: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
