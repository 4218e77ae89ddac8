/**
 * Parties written by hand for adversarial tests: a sender with its own identity that may name any device key, a bare
 * libp2p node, bundle requests, first messages deposited at relays or written directly. Genuine cryptography
 * throughout: what they send is what a malicious but competent peer could send.
 */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createAccount,
  createSessionManager,
  decodePrekeyBundle,
  defaultBackend,
  generateIdentity,
  type IdentityKeyPair,
  type SessionManager,
  sealToDevice
} from '@parley/crypto'
import { MemoryProtocolStore } from '@parley/crypto/testing'
import type { Messenger } from '@parley/messenger'
import { createNodeCourier, createNodeLibp2p, depositAtRelays, type FoundRecord } from '@parley/network'
import {
  decodeAck,
  decodePrekeyResponse,
  encodeEnvelope,
  encodePaddedPayload,
  encodePrekeyRequest,
  MAX_ENVELOPE_BYTES,
  MAX_PREKEY_RESPONSE_BYTES,
  protocols
} from '@parley/wire'
import type { Libp2p } from 'libp2p'
import { type Fixture, ONE_HOST } from './kit.ts'

const ids = protocols('/parley')

/** A sender written by hand: its own identity, any device key it likes to name, sessions in memory. */
export async function handSender(
  deviceKey: Uint8Array
): Promise<{ identity: IdentityKeyPair; manager: SessionManager }> {
  const identity = await generateIdentity(defaultBackend)
  const account = await createAccount(defaultBackend, {
    identity,
    deviceKey,
    now: Date.now(),
    certificateLifetimeMs: 365 * 24 * 3600_000
  })
  return {
    identity,
    manager: createSessionManager({ backend: defaultBackend, account, store: new MemoryProtocolStore() })
  }
}

/** What a stranger deposits for `target` at its relays: a genuine first message, sealed as from `claimedDevice`. */
export async function depositAsStranger(
  reader: Messenger,
  target: Messenger,
  sender: { identity: IdentityKeyPair; manager: SessionManager },
  claimedDevice: Uint8Array,
  text: string,
  messageId: Uint8Array = defaultBackend.randomBytes(16)
): Promise<string[]> {
  const found = await reader.lookup(target.identityKey)
  const address = await sender.manager.startSession({ bundle: found.bundle }, { expectedIdentity: target.identityKey })
  const payload = encodePaddedPayload({ kind: 'text', senderSeq: 0, sentAt: Date.now(), text })
  const { ciphertext } = await sender.manager.encrypt(address, payload, { messageId })
  return depositSealed(found, target, sender, claimedDevice, messageId, ciphertext)
}

/** Deposits `ciphertext` for `target` at the relays its record `found` lists, sealed as from `claimedDevice`. */
export async function depositSealed(
  found: FoundRecord,
  target: Messenger,
  sender: { identity: IdentityKeyPair },
  claimedDevice: Uint8Array,
  messageId: Uint8Array,
  ciphertext: Uint8Array
): Promise<string[]> {
  const sealedSender = await sealToDevice(
    defaultBackend,
    found.bundle.certificate.agreementKey,
    new Uint8Array([...sender.identity.publicKey, ...claimedDevice])
  )
  const envelope = encodeEnvelope({ messageId, ciphertext, sealedSender })
  return depositAtRelays(
    createNodeCourier,
    ids.mailbox,
    found.relays,
    { recipient: target.identityKey, envelope },
    AbortSignal.timeout(10_000),
    () => {}
  )
}

/** A bare libp2p node of Parley's kind (a stranger's, or an attacker's): started, stopped with the fixture. */
export async function rawNode(fx: Fixture): Promise<Libp2p> {
  const node = await createNodeLibp2p(await generateKeyPair('Ed25519'), defaultBackend, { ...ONE_HOST, listen: [] })
  await node.start()
  fx.onStop(async () => node.stop())
  return node
}

/** Asks `target` for a prekey bundle over the prekeys protocol; the response's status or error code. */
export async function askBundle(node: Libp2p, target: Messenger) {
  const stream = await node.dialProtocol(multiaddr(target.addresses[0]!), ids.prekeys)
  const lp = lpStream(stream, { maxDataLength: MAX_PREKEY_RESPONSE_BYTES })
  try {
    await lp.write(encodePrekeyRequest({ identityKey: target.identityKey }))
    const response = decodePrekeyResponse((await lp.read()).subarray())
    await stream.close()
    return response
  } catch (e) {
    stream.abort(e as Error)
    return undefined
  }
}

/** A stranger on its own node writes one text to `target` directly (bundle from the device, a DM stream). */
export async function strangerWrites(
  fx: Fixture,
  target: Messenger,
  text: string,
  messageId = defaultBackend.randomBytes(16)
) {
  const node = await rawNode(fx)
  const sender = await handSender(publicKeyToProtobuf(node.peerId.publicKey!))
  const response = await askBundle(node, target)
  if (response?.status !== 'ok') throw new Error('no bundle')
  const address = await sender.manager.startSession(decodePrekeyBundle(response.prekeyBundle), {
    expectedIdentity: target.identityKey
  })
  const payload = encodePaddedPayload({ kind: 'text', senderSeq: 0, sentAt: Date.now(), text })
  const { ciphertext } = await sender.manager.encrypt(address, payload, { messageId })
  const stream = await node.dialProtocol(multiaddr(target.addresses[0]!), ids.dm)
  const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
  await lp.write(encodeEnvelope({ messageId, ciphertext }))
  const ack = decodeAck((await lp.read()).subarray())
  await stream.close()
  return { node, sender, ack }
}
