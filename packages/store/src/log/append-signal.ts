/**
 * Readers of an embedded log waiting for a record (`read` with `waitMs`): the one process that
 * appends wakes them, so they need not poll.
 */
export class AppendSignal {
  private waiters: (() => void)[] = [];

  /** Resolves at the next `notify`, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); resolve(); }
      this.waiters.push(done);
    });
  }

  /** Wakes every reader waiting (an append, or the log closing). */
  notify(): void {
    const woken = this.waiters;
    this.waiters = [];
    for (const w of woken) w();
  }
}
