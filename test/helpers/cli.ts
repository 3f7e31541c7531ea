/** Run the CLI in-process, capturing its output and exit code. */
import { main } from '../../lib/cli/main.js';

export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}
