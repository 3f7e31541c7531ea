#!/usr/bin/env node
/**
 * The mistral-router command. Each subcommand lives in its own module, loaded only when used.
 */
import { NeedError, RouterError } from '../errors.js';
import { EXIT_FAILURE, EXIT_USAGE, processIO, UsageError, type CliCommand, type CliIO } from './io.js';

const commands: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  catalog: { summary: 'list the models of the catalogue, filtered by capability, context, family', load: async () => (await import('./catalog.js')).catalogCommand },
  route: { summary: 'dry run: the plan for a need (chosen model, and why every other lost)', load: async () => (await import('./route.js')).routeCommand },
  demo: { summary: 'route a realistic burst of requests through a local emulator on the free tier', load: async () => (await import('./demo.js')).demoCommand },
  emulate: { summary: 'run the local Mistral-compatible emulator that meters like Mistral', load: async () => (await import('./emulate.js')).emulateCommand },
  simulate: { summary: 'replay a trace (Azure CSV or JSON lines) through the router against the emulator on a fake clock; HTML report', load: async () => (await import('./simulate.js')).simulateCommand },
  serve: { summary: 'run the HTTP gateway (Mistral and OpenAI API) with routes, virtual keys and budgets', load: async () => (await import('./serve.js')).serveCommand },
};

export function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `Usage: mistral-router <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "mistral-router <command> --help" for a command's options.\n`;
}

/** Run the CLI with arguments (without `node` and the script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage()); // a command is required: the usage goes where errors go, with exit code 2
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    io.err(`mistral-router: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (error) {
    // A NeedError here comes from a flag's value (an unknown capability, a malformed version): a usage error.
    if (error instanceof UsageError || error instanceof NeedError) {
      io.err(`mistral-router ${name}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (RouterError.isInstance(error)) {
      io.err(`mistral-router ${name}: ${error.message} [${error.code}]\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').slice(-3).join('/'));
if (invokedDirectly || process.argv[1]?.endsWith('mistral-router')) {
  // `mistral-router catalog | head`: the reader left; stop quietly, as command-line tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
