/** Real identities, bundles and sessions from @parley/crypto, for the tests that need genuine signed bytes. */
import {
  type AccountState,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  encodeBundle,
  generateIdentity,
  generateOneTimePrekeys,
  type IdentityKeyPair,
  publishBundle,
  type SessionManager,
  takePrekeyBundle
} from '@parley/crypto'
import { MemoryProtocolStore } from '@parley/crypto/testing'

export const DAY = 24 * 3600 * 1000
/** The fixed test clock: 2026-11-28T00:00:00Z. */
export const NOW = Date.UTC(2026, 10, 28)

let deviceCounter = 0

/** A device: its identity, account (certified device, prekeys) and a session manager over an in-memory store. */
export interface Device {
  readonly identity: IdentityKeyPair
  account: AccountState
  readonly manager: SessionManager
}

/** A fresh identity with a certified device valid for a year from `now`, and one one-time prekey of each kind. */
export async function makeDevice(backend: CryptoBackend, now = NOW): Promise<Device> {
  const identity = await generateIdentity(backend)
  const deviceKey = new TextEncoder().encode(`device-${++deviceCounter}`)
  let account = await createAccount(backend, { identity, deviceKey, now, certificateLifetimeMs: 365 * DAY })
  account = await generateOneTimePrekeys(backend, account, 'x25519', 1)
  account = await generateOneTimePrekeys(backend, account, 'kem', 1)
  const manager = createSessionManager({ backend, account, store: new MemoryProtocolStore(), now: () => now })
  return { identity, account, manager }
}

/** The device's signed bundle as @parley/crypto encodes it, valid for `lifetimeMs` from `now`. */
export async function bundleBytes(backend: CryptoBackend, device: Device, now = NOW, lifetimeMs = 7 * DAY) {
  const published = await publishBundle(backend, device.account, now, lifetimeMs)
  device.account = published.state
  return encodeBundle(published.bundle)
}

/** A prekey bundle with one-time prekeys, as the prekeys protocol hands it out. */
export async function prekeyBundleFor(backend: CryptoBackend, device: Device, now = NOW) {
  const taken = await takePrekeyBundle(backend, device.account, now, 7 * DAY)
  device.account = taken.state
  return taken.prekeyBundle
}
