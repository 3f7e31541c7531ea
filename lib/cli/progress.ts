/**
 * Progress of a long command: a bar (cli-progress) when the output is a terminal, plain lines otherwise
 * (a log file or CI keeps one line per tenth of the work instead of a bar redrawn hundreds of times).
 */
import cliProgress from 'cli-progress';

/** What a progress display is told. */
export interface Progress {
  /** `done` of `total`, and the words to show beside the count. */
  update(done: number, detail: string): void;
  /** The work is finished: the bar is drawn full and left in place, or the last line is written. */
  stop(): void;
}

/** A bar redrawn on `stream` (a TTY), at most every 100 ms. */
export function terminalProgress(stream: NodeJS.WritableStream, label: string, total: number): Progress {
  const bar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% {value}/{total} {detail}`, hideCursor: true, clearOnComplete: false, fps: 10, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  return {
    update: (done, detail) => bar.update(done, { detail }),
    stop: () => bar.stop(),
  };
}

/** One line `label: done/total (p%) detail` each time another tenth is done, and once at the end. */
export function lineProgress(write: (text: string) => void, label: string, total: number): Progress {
  let nextTenth = 1;
  let last = { done: 0, detail: '' };
  let finished = false;
  const line = (done: number, detail: string) => write(`${label}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.floor((done / Math.max(1, total)) * 100)}%) ${detail}\n`);
  return {
    update(done, detail) {
      last = { done, detail };
      if (done < total && done >= (nextTenth * total) / 10) {
        line(done, detail);
        while (done >= (nextTenth * total) / 10) nextTenth++;
      }
    },
    stop() {
      if (finished) return;
      finished = true;
      line(last.done, last.detail);
    },
  };
}
