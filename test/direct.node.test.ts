/**
 * Direct connections first, and the diagnostics that show it: real messengers (Node preset, WebRTC through
 * node-datachannel) and a real relay on loopback. Nodes without sockets of their own reach each other through the
 * relay's circuit, upgrade to direct WebRTC, and chat over it; a session stream that had to start on the circuit
 * moves to the direct connection when it opens; diagnostics() names relays, connection kinds, delivery paths and
 * reasons. (Browsers need the network namespace: test/webrtc.netns.test.ts.)
 */
import type { Connection, PeerId } from '@libp2p/interface'
import { toHex } from '@parley/crypto'
import { DIRECT_RETRY_MS, type Messenger, type MessengerEvents, type NetworkOptions } from '@parley/messenger'
import { connectionKind, DIRECT_UPGRADE_TIMEOUT_MS } from '@parley/network'
import { untilFound, untilFoundEachOther } from '@parley/test-kit'
import { DEFAULT_PROTOCOL_PREFIX, protocols } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { addressOf, collect, Fixture, until } from './kit.ts'

const SESSION = protocols(DEFAULT_PROTOCOL_PREFIX).session

/** Open session streams we opened to `peer`, by the kind of connection they run on. */
function sessionStreamsTo(m: Messenger, peer: PeerId): Array<{ kind: string; connection: Connection }> {
  return m
    .connectionsTo(peer)
    .flatMap((c) =>
      c.streams
        .filter((s) => s.protocol === SESSION && s.direction === 'outbound' && s.status === 'open')
        .map(() => ({ kind: connectionKind(c), connection: c }))
    )
}

describe('direct WebRTC between Node messengers behind one relay', () => {
  let fx: Fixture
  afterEach(async () => {
    await fx.stop()
  })

  /** Two messengers with no socket of their own (circuit and WebRTC only), published and known to each other. */
  async function pair(
    extra: { a?: Partial<NetworkOptions>; b?: Partial<NetworkOptions>; mutual?: boolean; aNow?: () => number } = {}
  ) {
    fx = new Fixture()
    const relay = await fx.relay()
    const network: NetworkOptions = {
      bootstrap: [addressOf(relay)],
      listen: ['/p2p-circuit', '/webrtc'],
      clientMode: true
    }
    const a = await fx.messenger({ network: { ...network, ...extra.a }, ...(extra.aNow && { now: extra.aNow }) })
    const b = await fx.messenger({ network: { ...network, ...extra.b } })
    for (const m of [a, b])
      await until(() => m.addresses.some((x) => x.includes('/p2p-circuit')), 30_000, 'a reservation')
    await untilFoundEachOther(a, b, 60_000, 'both records')
    const aHex = toHex(a.identityKey)
    const bHex = toHex(b.identityKey)
    await a.addContact(bHex, { name: 'bob' })
    if (extra.mutual !== false) await b.addContact(aHex, { name: 'alice' })
    return { relay, a, b, aHex, bHex }
  }

  it('the chat runs over direct WebRTC, the relayed connection stays beside it, and diagnostics say so', async () => {
    const { relay, a, b, aHex, bHex } = await pair()
    const atB = collect(b, 'message')
    const atA = collect(a, 'message')
    expect((await a.send(bHex, 'hello')).status).toBe('sent')
    await until(() => atB.length === 1, 30_000, 'B to get the message')
    expect((await b.send(aHex, 'hello back')).status).toBe('sent')
    await until(() => atA.length === 1, 30_000, 'A to get the reply')

    // The direct connection is open (on a loaded machine the first messages may have gone on the circuit while the
    // upgrade ran, for at most DIRECT_WAIT_MS); from now on both ends' session streams run on it, never on the circuit.
    await until(
      () => a.connectionsTo(b.peerId).some((c) => connectionKind(c) === 'direct-webrtc'),
      10_000,
      'the direct connection'
    )
    expect((await a.send(bHex, 'again')).status).toBe('sent')
    expect((await b.send(aHex, 'again back')).status).toBe('sent')
    await until(() => atB.length === 2 && atA.length === 2, 30_000, 'the second exchange')
    expect(sessionStreamsTo(a, b.peerId).map((s) => s.kind)).toEqual(['direct-webrtc'])
    expect(sessionStreamsTo(b, a.peerId).map((s) => s.kind)).toEqual(['direct-webrtc'])
    const kinds = a.connectionsTo(b.peerId).map(connectionKind)
    expect(kinds).toContain('direct-webrtc')

    // The bootstrap relay also keeps A's mailbox (relays that run the mailbox service qualify).
    await until(() => a.mailboxes.length === 1, 30_000, "A's mailbox")
    const report = await a.diagnostics()
    expect(report.relays).toEqual([
      { address: addressOf(relay), peerId: relay.peerId.toString(), connected: true, reservation: true, mailbox: true }
    ])
    expect(report.contacts).toHaveLength(1)
    const bob = report.contacts[0]!
    expect(bob).toMatchObject({ identity: bHex, name: 'bob', connection: 'direct-webrtc' })
    expect(bob.lastDelivery?.via).toBe('direct')
    expect(bob.unreachable).toBeUndefined()
  })

  it('a session stream that started on the circuit moves to the direct connection as soon as it opens', async () => {
    // B's gate is closed for now: A's upgrade is refused and A's session stream opens on the circuit.
    let open = false
    const { a, b, aHex, bHex } = await pair({ b: { webrtcGate: () => open } })
    const atB = collect(b, 'message')
    expect((await a.send(bHex, 'over the circuit')).status).toBe('sent')
    await until(() => atB.length === 1, 30_000, 'B to get the first message')
    expect(sessionStreamsTo(a, b.peerId).map((s) => s.kind)).toEqual(['relayed'])
    expect((await a.diagnostics()).contacts[0]).toMatchObject({
      connection: 'relayed',
      lastDelivery: { via: 'relayed' }
    })

    // B's gate opens and B writes to A: B's upgrade opens the direct connection; A's stream moves to it.
    open = true
    const atA = collect(a, 'message')
    await b.send(aHex, 'reply')
    await until(() => atA.length === 1, 30_000, 'A to get the reply')
    await until(
      () => a.connectionsTo(b.peerId).some((c) => connectionKind(c) === 'direct-webrtc' && c.direction === 'inbound'),
      10_000,
      'the direct connection B opened'
    )
    await until(() => sessionStreamsTo(a, b.peerId).length === 0, 10_000, 'the relayed session stream to close')
    expect((await a.send(bHex, 'now direct')).status).toBe('sent')
    await until(() => atB.length === 2, 30_000, 'B to get the second message')
    expect(sessionStreamsTo(a, b.peerId).map((s) => s.kind)).toEqual(['direct-webrtc'])
    expect(atB.map((m) => m.text)).toEqual(['over the circuit', 'now direct'])
    expect((await a.diagnostics()).contacts[0]).toMatchObject({
      connection: 'direct-webrtc',
      lastDelivery: { via: 'direct' }
    })
  })

  it('a failed upgrade is tried again on its own while only the circuit is open (no message needed)', async () => {
    // B's gate is closed for now: it refuses A's WebRTC and B starts none itself. A's clock runs at 90% speed, so each
    // retry timer fires before A's now() says the backoff is over (as a timer now and then does by a millisecond): a
    // retry that asked the clock again was refused and never scheduled again (found as a CI failure of this test).
    let open = false
    const start = Date.now()
    const slow = () => start + Math.floor((Date.now() - start) * 0.9)
    const { a, b, bHex } = await pair({ b: { webrtcGate: () => open }, aNow: slow })
    const atB = collect(b, 'message')
    expect((await a.send(bHex, 'over the circuit')).status).toBe('sent')
    await until(() => atB.length === 1, 30_000, 'B to get the message')
    await until(async () => (await a.diagnostics()).contacts[0]!.unreachable !== undefined, 15_000, 'the refusal')
    const relayedOnly = (await a.diagnostics()).contacts[0]!
    expect(relayedOnly.connection).toBe('relayed')
    expect(relayedOnly.unreachable).toMatch(/^relayed only: /)
    // B's gate opens; nobody sends. A's retry (DIRECT_RETRY_MS after the refusal) opens the direct connection.
    open = true
    // The window still covers a stalled WebRTC dial or three on a loaded machine (5 + 10 + 20 + 40 s of backoff, four
    // upgrade timeouts); the earlier CI failures here were the retry that was never scheduled again (see above).
    await until(
      () => a.connectionsTo(b.peerId).some((c) => connectionKind(c) === 'direct-webrtc'),
      15 * DIRECT_RETRY_MS + 4 * DIRECT_UPGRADE_TIMEOUT_MS,
      'the retried upgrade'
    )
    // A dialled it (its retry), not B.
    expect(
      a
        .connectionsTo(b.peerId)
        .filter((c) => connectionKind(c) === 'direct-webrtc')
        .map((c) => c.direction)
    ).toContain('outbound')
    expect((await a.diagnostics()).contacts[0]!.unreachable).toBeUndefined()
    await until(() => sessionStreamsTo(a, b.peerId).length === 0, 10_000, 'the relayed session stream to close')
    expect((await a.send(bHex, 'now direct')).status).toBe('sent')
    await until(() => atB.length === 2, 30_000, 'B to get the second message')
    expect(sessionStreamsTo(a, b.peerId).map((s) => s.kind)).toEqual(['direct-webrtc'])
  }, 240_000)

  it('a stranger cannot open WebRTC with us (it would learn our IP addresses); once accepted, the chat goes direct', async () => {
    const { a, b, aHex, bHex } = await pair({ mutual: false })
    const requests = collect(b, 'message')
    expect((await a.send(bHex, 'hello, you do not know me')).status).toBe('sent')
    await until(() => requests.length === 1, 30_000, 'the message request')
    expect(requests[0]!.request).toBe(true)
    // A tried at once (its relayed connection opened) and B's gate refused: B has not added A.
    await until(async () => (await a.diagnostics()).contacts[0]!.unreachable !== undefined, 15_000, 'the refusal')
    expect((await a.diagnostics()).contacts[0]).toMatchObject({
      connection: 'relayed',
      lastDelivery: { via: 'relayed' }
    })
    expect(b.connectionsTo(a.peerId).map(connectionKind)).not.toContain('direct-webrtc')
    // B accepts and replies: A is a contact now, and B's side opens the direct connection.
    await b.acceptRequest(aHex, { name: 'alice' })
    const atA = collect(a, 'message')
    expect((await b.send(aHex, 'welcome')).status).toBe('sent')
    await until(() => atA.length === 1, 30_000, 'the reply')
    await until(
      () => b.connectionsTo(a.peerId).some((c) => connectionKind(c) === 'direct-webrtc'),
      15_000,
      'the direct connection once accepted'
    )
  })

  it('with webrtc off (the privacy setting) the chat stays on the circuit and diagnostics say relayed', async () => {
    const { a, b, bHex } = await pair({ a: { webrtc: false } })
    const atB: MessengerEvents['message'][] = collect(b, 'message')
    expect((await a.send(bHex, 'relayed only')).status).toBe('sent')
    await until(() => atB.length === 1, 30_000, 'B to get the message')
    expect(a.connectionsTo(b.peerId).map(connectionKind)).toEqual(['relayed'])
    expect((await a.diagnostics()).contacts[0]).toMatchObject({
      connection: 'relayed',
      lastDelivery: { via: 'relayed' }
    })
  })
})

describe('diagnostics of unreachable contacts', () => {
  let fx: Fixture
  afterEach(async () => {
    await fx.stop()
  })

  it('a contact with no record is "no record in the DHT"; an offline one gets mail and a dial failure', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const bootstrap = [addressOf(relay)]
    const network: NetworkOptions = { bootstrap, listen: ['/ip4/127.0.0.1/tcp/0'] }
    const mailbox = { relays: bootstrap, pollIntervalMs: 500 }
    const a = await fx.messenger({ network, mailbox })
    const b = await fx.messenger({ network, mailbox })
    // Never online: its identity is valid, but nothing about it is in the DHT.
    const ghost = await fx.messenger({ offline: true })
    const bHex = toHex(b.identityKey)
    const ghostHex = toHex(ghost.identityKey)
    await until(() => b.mailboxes.length === 1, 60_000, 'B to register its mailbox')
    await untilFound(a, b, 60_000, "B's record with its mailbox relay", {
      accept: (found) => found.record.mailboxRelays.length > 0
    })
    await a.addContact(bHex, { name: 'bob' })
    await a.addContact(ghostHex, { name: 'ghost' })
    await b.stop()

    expect((await a.send(bHex, 'while you were out')).status).toBe('deposited')
    expect((await a.send(ghostHex, 'hello?')).status).toBe('queued')
    const report = await a.diagnostics()
    // Connected, our mailbox is there, and no reservation (A listens on TCP, not on /p2p-circuit).
    expect(report.relays).toHaveLength(1)
    expect(report.relays[0]).toMatchObject({ peerId: relay.peerId.toString(), connected: true, reservation: false })
    const byName = new Map(report.contacts.map((c) => [c.name, c]))
    expect(byName.get('bob')).toMatchObject({ connection: 'none', lastDelivery: { via: 'mailbox' } })
    expect(byName.get('bob')!.unreachable).toMatch(/^dial failed: /)
    expect(byName.get('ghost')).toMatchObject({ connection: 'none', unreachable: 'no record in the DHT' })
    expect(byName.get('ghost')!.lastDelivery).toBeUndefined()
    // Reasons never quote peer ids (public keys) or identities.
    for (const c of report.contacts) {
      expect(c.unreachable ?? '').not.toContain(b.peerId.toString())
      expect(c.unreachable ?? '').not.toContain(c.identity)
    }
  })
})
