/**
 * Per-key serialisation: operations on one session run one after another even though WebCrypto calls yield
 * between steps. Entries are removed when their queue drains, so the map stays as small as the work in flight.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  /**
   * Runs `fn` once every earlier call for `key` has settled, or has released the key early: `fn` may call `release()`
   * (once its state change has its place in the store's write order) to let the next caller start while it still
   * awaits durability. Releasing is idempotent; the key is released when `fn` settles in any case.
   */
  async run<T>(key: string, fn: (release: () => void) => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => mine)
    this.tails.set(key, tail)
    await previous
    try {
      return await fn(release)
    } finally {
      release()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}
