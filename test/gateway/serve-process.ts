/**
 * `mistral-router serve` in a child process, as an operator runs it: started from a config file, its URL
 * read from what it prints, stopped with SIGTERM (it drains and exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServeProcess {
  readonly url: string;
  /** What it printed so far. */
  output(): string;
  /** SIGTERM, then the exit code once it has drained and exited. */
  stop(): Promise<number | null>;
  /** SIGKILL if it is still running (a test's `finally`). */
  kill(): void;
}

const MAIN = fileURLToPath(new URL('../../lib/cli/main.js', import.meta.url));

export async function spawnServe(configFile: string, env: Record<string, string>): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, 'serve', '--config', configFile, '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', () => undefined);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match !== null) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)));
  });
  return {
    url,
    output: () => out,
    stop: () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
