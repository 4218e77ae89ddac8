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
  /** Writes the whole transaction atomically, or throws and writes nothing. */
  commit(tx: ProtocolTransaction): Promise<void>
}
