// The public API shared by the Node and browser entry points (each adds its default backend).
export * from './account.ts'
export { decodeAccount, encodeAccount } from './account-codec.ts'
export { nobleBackend } from './backend/noble.ts'
export type { BackendName, CryptoBackend, Encapsulation, RawKeyPair } from './backend/types.ts'
export { webCryptoBackend } from './backend/webcrypto.ts'
export * from './bundle.ts'
export { equalBytes, fromHex, toHex } from './codec.ts'
export * from './constants.ts'
export { DEVICE_SEAL_OVERHEAD_BYTES, openDeviceSeal, sealToDevice } from './device-seal.ts'
export * from './errors.ts'
export * from './identity.ts'
export { validateEd25519PublicKey, validateX25519PublicKey } from './keys.ts'
export { KeyedMutex } from './mutex.ts'
export {
  availableOneTimePrekeys,
  consumeOneTimePrekeys,
  generateOneTimePrekeys,
  handedOutOneTimePrekeys,
  handOutOneTimePrekeys
} from './one-time-prekeys.ts'
export { type InitialMessage, parseInitialMessage } from './pqxdh.ts'
export * from './protocol.ts'
export type * from './protocol-types.ts'
export { RATCHET_OVERHEAD_BYTES } from './ratchet.ts'
export * from './safety-number.ts'
export {
  decodeSessionRecord,
  encodeSessionRecord,
  type SessionRecord,
  type SessionState
} from './session.ts'
export type { ProtocolStore, ProtocolTransaction } from './storage/types.ts'
