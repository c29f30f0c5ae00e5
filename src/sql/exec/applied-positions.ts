/**
 * @module exec/applied-positions
 * Cluster mode: the last log position committed on this node, and the reads waiting for one
 * (a client's Quiver-Min-Position: read-your-writes on a replica). A waiter is woken by the
 * commit that reaches its position, or by its own timeout; nothing polls.
 */
interface Waiter {
  at: number;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

export class AppliedPositions {
  private position = 0;
  private waiters: Waiter[] = [];

  get current(): number {
    return this.position;
  }

  /** Position `at` is committed here: wakes every waiter it satisfies. */
  advance(at: number): void {
    if (at <= this.position) return;
    this.position = at;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.at <= at) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  /** Resolves true once `at` is committed here, false after `timeoutMs` without it. */
  waitFor(at: number, timeoutMs: number): Promise<boolean> {
    if (at <= this.position) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        at,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }
}
