/**
 * A stream written one event at a time (`faults.chunkIntervalMs`), as a model that writes slowly: tests
 * can disconnect, drain or time out while it is open. The timers are the server's, so `stop()` clears them.
 */
import type { ServerResponse } from 'node:http';

/** Writes `events` to `res`, `intervalMs` apart (wall-clock), then ends it; stops if the client goes away. */
export function writePaced(res: ServerResponse, events: readonly string[], intervalMs: number, timers: Set<NodeJS.Timeout>): void {
  let next = 0;
  const step = () => {
    if (res.destroyed) return;
    const event = events[next++];
    if (event === undefined || next === events.length) {
      res.end(event);
      return;
    }
    res.write(event);
    const timer = setTimeout(() => {
      timers.delete(timer);
      step();
    }, intervalMs);
    timers.add(timer);
  };
  step();
}
