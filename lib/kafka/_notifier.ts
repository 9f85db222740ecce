/**
 * A wake-up between a source's two sides (kafkajs fetching, the engine taking slices): a
 * {@link Notifier}. Private to lib/kafka.
 *
 * @module
 */

/** A level-free wake-up: `wait()` resolves on the next `notify()` or after a timeout. */
export class Notifier {
  #waiters: (() => void)[] = [];

  /** Wakes every current waiter. */
  notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next notify, or after `timeoutMs` (true = notified). */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(wake);
    });
  }
}
