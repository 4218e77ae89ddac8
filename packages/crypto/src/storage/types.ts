/**
 * What the session manager needs from persistence (as libsignal's storage traits): load a peer's session record, and
 * commit everything one operation changed in ONE call, so a store can write it as one atomic batch.
 */

/** What one commit carries; a store writes all of it in one atomic batch. */
export interface ProtocolTransaction {
  readonly sessions: ReadonlyArray<{ readonly address: string; readonly record: Uint8Array }>
  /** The serialised account, when prekeys were consumed or a replay cache grew. */
  readonly account?: Uint8Array
  /** A received message's plaintext and id: persisted with the advanced session, before any receipt goes out. */
  readonly received?: { readonly address: string; readonly messageId: Uint8Array; readonly plaintext: Uint8Array }
  /** A sent message's exact bytes: persisted with the session update, so retries resend the same bytes. */
  readonly sent?: { readonly address: string; readonly messageId: Uint8Array; readonly ciphertext: Uint8Array }
}

/** Persistence the manager needs. */
export interface ProtocolStore {
  /** The record last committed for `address`, or undefined when there is none. */
  loadSessionRecord(address: string): Promise<Uint8Array | undefined>
  /**
   * Writes the whole transaction atomically, or throws and writes nothing. Resolves once it is durable.
   * A store with an ordered write queue calls `options.onQueued` (synchronously) once the transaction has its place in
   * that order — every later commit lands with it or after it — and the manager then lets the next operation on the
   * session start while this one awaits its sync (early lock release: concurrent messages share one fsync). Such a
   * store must refuse every later commit once one has failed (fail-stop), since later ones build on it.
   */
  commit(tx: ProtocolTransaction, options?: ProtocolCommitOptions): Promise<void>
}

/** Options of ProtocolStore.commit. */
export interface ProtocolCommitOptions {
  /** Called once the transaction is queued in the store's write order (never if the commit fails before). */
  readonly onQueued?: () => void
}
