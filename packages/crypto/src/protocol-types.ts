/** The session manager's options and results (protocol.ts). */
import type { AccountState } from './account.ts'
import type { CryptoBackend } from './backend/types.ts'
import type { ProtocolStore } from './storage/types.ts'

export interface SessionManagerOptions {
  backend: CryptoBackend
  account: AccountState
  store: ProtocolStore
  /** Injected clock (ms); Date.now by default. */
  now?: () => number
}

export interface EncryptOptions {
  /** 16-byte message id bound into the associated data; a random one when absent. */
  messageId?: Uint8Array
}

export interface Encrypted {
  readonly ciphertext: Uint8Array
  readonly messageId: Uint8Array
  /** True while the peer has not replied yet (the message carries the PQXDH initial part). */
  readonly initial: boolean
}

export interface DecryptOptions {
  /** The id the envelope carried with the message (bound into the associated data). */
  messageId: Uint8Array
  /** The sender's address when the transport knows it; required for ratchet messages. */
  address?: string
  /**
   * The device key the transport authenticated (the peer of a direct connection): an initial message whose sealed
   * certificate names another device is refused before anything is stored, so no one can claim someone else's device.
   */
  deviceKey?: Uint8Array
}

export interface Decrypted {
  readonly plaintext: Uint8Array
  readonly address: string
  readonly identityKey: Uint8Array
  readonly deviceKey: Uint8Array
  readonly sessionId: Uint8Array
  /** True when this message started a new session. */
  readonly newSession: boolean
}

export interface SessionInfo {
  readonly sessionId: Uint8Array
  readonly initiator: boolean
  /** False while an initiated session has had no reply. */
  readonly acknowledged: boolean
  readonly archived: number
  readonly remoteIdentityKey: Uint8Array
}
