/** A ProtocolStore in memory, for tests, benchmarks and the simulator (exported from `@parley/crypto/testing`). */
import type { ProtocolStore, ProtocolTransaction } from './types.ts'

/** A store in memory. Records are kept as bytes, as a real store would, so every load decodes afresh. */
export class MemoryProtocolStore implements ProtocolStore {
  readonly records = new Map<string, Uint8Array>()
  account?: Uint8Array
  commits = 0

  async loadSessionRecord(address: string): Promise<Uint8Array | undefined> {
    return this.records.get(address)
  }

  async commit(tx: ProtocolTransaction): Promise<void> {
    for (const { address, record } of tx.sessions) this.records.set(address, record)
    if (tx.account !== undefined) this.account = tx.account
    this.commits++
  }
}
