/**
 * The messenger's lifecycle: start opens (or creates) the account and the device's network key, builds the session
 * manager and the outbox schedule from the profile, then — unless offline — starts the libp2p node with our
 * protocols, contacts' online status, direct upgrades, groups and the background loops; stop ends them all.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import {
  type AccountState,
  createAccount,
  createSessionManager,
  decodeAccount,
  encodeAccount,
  generateIdentity,
  generateOneTimePrekeys,
  toHex
} from '@parley/crypto'
import { onRelayReconnect } from '@parley/network'
import {
  CERTIFICATE_LIFETIME_MS,
  GAP_CHECK_INTERVAL_MS,
  MAX_INBOUND_DM_STREAMS_PER_PEER,
  MAX_INBOUND_SESSION_STREAMS_PER_PEER,
  ONE_TIME_PREKEY_TARGET,
  RETRY_INITIAL_MS,
  SEEN_PRUNE_INTERVAL_MS
} from './constants.ts'
import { type Core, META_ACCOUNT, META_NETWORK_KEY } from './core.ts'
import { InvalidInputError } from './errors.ts'
import { decodeOutbox } from './records.ts'

/** Starts a messenger's core (see the file comment). */
export async function startCore(core: Core): Promise<void> {
  const { store, backend } = core
  const networkKeyBytes = await store.get('meta', META_NETWORK_KEY)
  const networkKey = networkKeyBytes ? privateKeyFromProtobuf(networkKeyBytes) : await generateKeyPair('Ed25519')
  let account: AccountState
  const accountBytes = await store.get('meta', META_ACCOUNT)
  if (accountBytes !== undefined) {
    account = decodeAccount(accountBytes)
  } else {
    account = await createAccount(backend, {
      identity: await generateIdentity(backend),
      deviceKey: publicKeyToProtobuf(networkKey.publicKey),
      now: core.now(),
      certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
    })
    account = await generateOneTimePrekeys(backend, account, 'x25519', ONE_TIME_PREKEY_TARGET)
    account = await generateOneTimePrekeys(backend, account, 'kem', ONE_TIME_PREKEY_TARGET)
    const b = store.batch()
    b.put('meta', META_NETWORK_KEY, privateKeyToProtobuf(networkKey))
    b.put('meta', META_ACCOUNT, encodeAccount(account))
    await b.commit()
  }
  core.sessions = createSessionManager({ backend, account, store: core.inbound.protocolStore(), now: core.now })
  // A device certificate with less than half its lifetime left is renewed (same device and agreement keys).
  await core.publisher.renewCertificate()
  // The one full pass over the outbox: from here on the schedule knows what is due.
  for await (const { value } of store.query('outbox')) core.outbox.scheduleEntry(decodeOutbox(value))
  await core.resends.loadGaps()
  await core.announcements.loadLeftovers()
  if (core.offline) return

  const factory = core.libp2pFactory
  if (factory === undefined) throw new InvalidInputError('libp2p', 'a libp2p factory (use the package entry point)')
  const node = await factory(networkKey, backend, {
    ...core.networkOptions,
    ...(core.networkOptions.now === undefined && { now: core.now }),
    // Only contacts' devices may open WebRTC with us: it tells them our IP addresses (direct.ts).
    webrtcGate: core.networkOptions.webrtcGate ?? ((peer) => core.direct.admits(peer))
  })
  core.node = node
  // All run over relayed (circuit) connections too, whose relay caps bytes and time: a message or a bundle is a
  // few KiB, and a node with no listening address (a browser, a node behind NAT) is reachable no other way.
  const inbound = core.inbound
  await node.handle(core.ids.session, (stream, connection) => inbound.onSessionStream(stream, connection), {
    maxInboundStreams: MAX_INBOUND_SESSION_STREAMS_PER_PEER,
    runOnLimitedConnection: true
  })
  await node.handle(core.ids.dm, (stream, connection) => inbound.onDmStream(stream, connection), {
    maxInboundStreams: MAX_INBOUND_DM_STREAMS_PER_PEER,
    runOnLimitedConnection: true
  })
  await node.handle(core.ids.prekeys, (stream, connection) => inbound.onPrekeyStream(stream, connection), {
    runOnLimitedConnection: true
  })
  const status = (online: boolean) => (e: CustomEvent<PeerId>) => {
    const key = e.detail.publicKey
    if (key === undefined) return
    void store
      .get('devices', toHex(publicKeyToProtobuf(key)))
      .then((identity) => {
        if (identity === undefined) return
        const relayed = node.getConnections(e.detail).some((c) => c.limits !== undefined)
        const contact = new TextDecoder().decode(identity)
        core.events.emit('peer:status', { contact, online, relayed })
        // A contact's device is back: what waits for it is due now, not at the end of its backoff.
        if (online) core.outbox.dueNow(contact)
      })
      .catch(() => {})
  }
  node.addEventListener('peer:connect', status(true))
  node.addEventListener('peer:disconnect', status(false))
  // Our addresses changed (a circuit reservation came or went, a listener moved): republish soon, so contacts find
  // the addresses we can be reached at now rather than at the next timer.
  node.addEventListener('self:peer:update', () => core.publisher.republishSoon())
  // Relayed connections to contacts are upgraded to direct WebRTC; session streams move when a direct one opens.
  core.direct.attach()
  await node.start()
  // Groups run when the node has a gossipsub service (the Node and browser presets do).
  await core.groups?.start()
  // A relay we use that restarted may have lost our record (or its mailbox registration): republish soon.
  core.publisher.stopRelayWatch = onRelayReconnect(
    node,
    () => [...(core.networkOptions.bootstrap ?? []), ...core.mailboxes.mailboxRelays],
    () => core.publisher.republishSoon()
  )
  core.later(() => core.publisher.republishLoop(), 0)
  core.later(() => core.outbox.retryLoop(), RETRY_INITIAL_MS)
  core.later(() => core.mailboxes.mailboxLoop(), core.mailboxOptions.pollIntervalMs)
  core.later(() => core.resends.gapLoop(), GAP_CHECK_INTERVAL_MS)
  core.later(() => core.resends.pruneLoop(), Math.min(60_000, SEEN_PRUNE_INTERVAL_MS))
}

/** Stops the loops, the session streams, groups and the node. */
export async function stopCore(core: Core): Promise<void> {
  core.shutdown.abort()
  core.outbox.streams.closeAll()
  core.publisher.stop()
  for (const t of core.timers) clearTimeout(t)
  await core.groups?.stop().catch(() => {})
  await core.node?.stop()
}
