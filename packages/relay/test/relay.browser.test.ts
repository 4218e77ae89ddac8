/**
 * A browser node using a Parley relay, in a real Chromium. The Node side (a relay on ws:// loopback and a Node
 * messenger "dave" on an in-memory profile) runs in the Vitest process through the browser command `parleyRelay`
 * (browser-relay-commands.ts, registered in vitest.config.ts). The browser messenger, on an IndexedDB profile with the
 * browser preset:
 * 1. gets a /p2p-circuit address through the relay and keeps its mailbox there;
 * 2. is found by Dave in the DHT and receives his message over the relayed circuit ('sent');
 * 3. deposits from its courier (over WebSockets) for Dave while he is offline; Dave gets it once when back;
 * 4. stops; Dave deposits for it; reopened from IndexedDB it drains its mailbox and shows the message once.
 * Browser only (the Node project excludes *.browser.test.ts).
 */

import { peerIdFromString } from '@libp2p/peer-id'
import { fromHex, toHex } from '@parley/crypto'
import * as parley from '@parley/messenger'
import { createMessenger, type Messenger, type MessengerEvents, NAMESPACES, type Namespace } from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { until } from '@parley/test-kit'
import { afterAll, describe, expect, it } from 'vitest'
import { commands } from 'vitest/browser'
import type { RelayOps } from './browser-relay-commands.ts'

const PASS = 'browser passphrase'
const DB = `parley-relay-test-${crypto.randomUUID()}`
let running: { messenger: Messenger; store: ProfileStore<Namespace> } | undefined

/** Runs an operation of browser-relay-commands.ts in the Node process. */
function node<K extends keyof RelayOps>(op: K, ...args: Parameters<RelayOps[K]>): ReturnType<RelayOps[K]> {
  return commands.parleyRelay(op, ...args)
}

afterAll(async () => {
  if (running !== undefined) {
    await running.messenger.stop().catch(() => {})
    await running.store.close().catch(() => {})
    running = undefined
  }
  await node('relayCleanup')
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
  })
})

/** Opens (or creates) the browser's profile in IndexedDB and starts a messenger on it, with the relay as its peer. */
async function startBrowser(relay: string, create: boolean) {
  const store = await createProfileStore(await openStore({ kind: 'idb', name: DB }), PASS, {
    namespaces: NAMESPACES,
    create,
    unsafeFastKdfForTests: true
  })
  const messenger = await createMessenger({
    store,
    network: { bootstrap: [relay] },
    mailbox: { relays: [relay], pollIntervalMs: 300 }
  })
  running = { messenger, store }
  const messages: MessengerEvents['message'][] = []
  messenger.events.addEventListener('message', (e) =>
    messages.push((e as CustomEvent<MessengerEvents['message']>).detail)
  )
  return { messenger, messages }
}

async function stopBrowser(): Promise<void> {
  const r = running
  running = undefined
  await r?.messenger.stop()
  await r?.store.close()
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a browser messenger with a Parley relay', () => {
  it('is reached over the circuit, deposits from its courier, and drains its mailbox after a restart', async () => {
    const t0 = performance.now()
    const mark: Record<string, number> = {}
    const lap = (name: string) => {
      mark[name] = Math.round(performance.now() - t0)
    }
    // The bundler gave us the browser entry (its preset has no TCP), not the Node one.
    expect('createBrowserLibp2p' in parley).toBe(true)
    expect('createNodeLibp2p' in parley).toBe(false)

    const relay = await node('relayStart')
    let { messenger: m, messages } = await startBrowser(relay.address, true)
    const me = toHex(m.identityKey)
    const myPeerId = m.peerId.toString()

    // 1. A reservation at the relay (our only address) and our mailbox there, with one-time prekeys left for others.
    await until(
      () => m.addresses.some((a) => a.startsWith(`${relay.address}/p2p-circuit`)),
      20_000,
      'a circuit address'
    )
    expect(m.addresses.length).toBeGreaterThan(0)
    expect(m.addresses.every((a) => a.includes('/p2p-circuit'))).toBe(true)
    await until(() => m.mailboxes.includes(relay.address), 20_000, 'our mailbox at the relay')
    expect(m.mailboxes).toEqual([relay.address])
    const atStart = await node('relayStats')
    expect(atStart.reservations).toContain(myPeerId)
    expect(atStart.mailboxes).toBe(1)
    expect(atStart.storedPrekeys).toBeGreaterThan(0)
    lap('circuit+mailbox')

    // 2. Dave finds our record (circuit address, mailbox relay) in the DHT and reaches us over the relayed circuit.
    const dave = await node('daveStart')
    await node('daveAddContact', me)
    const lookups: Awaited<ReturnType<RelayOps['daveLookup']>>[] = []
    await until(
      async () => {
        const r = await node('daveLookup', me, 3000)
        lookups.push(r)
        return r.found && r.addresses.some((a) => a.includes('/p2p-circuit'))
      },
      20_000,
      'Dave to find our record with its circuit address'
    )
    const record = lookups.at(-1)
    if (!record?.found) throw new Error('unreachable')
    expect(record.peerId).toBe(myPeerId)
    expect(record.relays).toEqual([relay.address])
    lap('record found')
    // Dave is our contact (a stranger's message would be a message request: stored, with no delivery receipt).
    await m.addContact(dave.identity, { name: 'dave' })
    const hello = `hello browser ${crypto.randomUUID()}`
    expect(await node('daveSend', me, hello)).toBe('sent')
    await until(() => messages.some((x) => x.text === hello), 10_000, 'the browser to receive it')
    expect(messages.map((x) => [x.contact, x.text])).toEqual([[dave.identity, hello]])
    const davePeer = peerIdFromString(dave.peerId)
    const conns = m.connectionsTo(davePeer)
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((c) => c.remoteAddr.toString().includes('/p2p-circuit'))).toBe(true)
    expect((await node('relayStats')).deposits).toBe(0)
    // Our Ack (the delivery receipt) reaches Dave over the circuit he opened, on his session stream.
    await until(
      () => node('daveHistory', me).then((h) => h.some((x) => x.text === hello && x.state === 'delivered')),
      20_000,
      'our delivered receipt at Dave'
    )
    // Our reply goes to Dave over that circuit too: libp2p would not reuse a limited (relayed) connection for a new
    // dial, and a browser cannot dial Dave's own addresses, so the messenger opens its session stream on it.
    const reply = `hello Dave, over the circuit ${crypto.randomUUID()}`
    expect((await m.send(dave.identity, reply)).status).toBe('sent')
    await until(
      () => node('daveMessages').then((x) => x.some((y) => y.text === reply)),
      10_000,
      'Dave to get our reply'
    )
    await until(() => m.queued === 0, 10_000, 'our outbox to empty')
    const receiptDeposits = (await node('relayStats')).deposits
    // Nothing went to his mailbox: the Ack came back over the relayed connection Dave opened.
    expect(receiptDeposits).toBe(0)
    lap('sent over the circuit')

    // 3. Dave goes offline; we write to him: our courier deposits at his mailbox relay over WebSockets.
    await until(() => node('daveMailboxes').then((x) => x.includes(relay.address)), 20_000, "Dave's mailbox")
    await until(
      async () => {
        try {
          const found = await m.lookup(fromHex(dave.identity), { signal: AbortSignal.timeout(3000) })
          return found.relays.includes(relay.address)
        } catch {
          return false
        }
      },
      20_000,
      "Dave's record listing his mailbox relay"
    )
    await node('daveStop')
    await until(() => m.connectionsTo(davePeer).length === 0, 10_000, 'the circuit to Dave to close')
    const before = await node('relayStats')
    const toDave = `hello Dave ${crypto.randomUUID()}`
    const deposited = await m.send(dave.identity, toDave)
    expect(deposited.status).toBe('deposited')
    const out = (await m.history(dave.identity)).find((h) => h.id === deposited.id)
    expect(out?.state).toBe('deposited')
    expect(out?.waitingAt).toEqual([relay.peerId])
    const afterDeposit = await node('relayStats')
    expect(afterDeposit.deposits - before.deposits).toBe(1)
    expect(afterDeposit.storedEnvelopes).toBe(1)
    lap('deposited for Dave')

    // Dave comes back on the same profile: he drains his mailbox and shows our message exactly once.
    expect((await node('daveStart')).identity).toBe(dave.identity)
    await until(
      () => node('daveMessages').then((x) => x.some((y) => y.text === toDave)),
      20_000,
      'Dave to receive the deposit'
    )
    await until(() => node('relayStats').then((s) => s.storedEnvelopes === 0), 10_000, 'the relay to empty')
    // His delivered receipt reaches us over the circuit.
    await until(
      async () => (await m.history(dave.identity)).find((h) => h.id === deposited.id)?.state === 'delivered',
      20_000,
      "Dave's delivered receipt"
    )
    await sleep(1500) // more mailbox rounds on both sides: still nothing twice
    expect((await node('daveMessages')).map((x) => [x.contact, x.text])).toEqual([
      [me, reply],
      [me, toDave]
    ])
    expect((await node('daveMessages')).filter((x) => x.id === deposited.id)).toHaveLength(1)
    lap('Dave drained')

    // 4. We go offline (the profile stays in IndexedDB); Dave writes; his courier deposits at our mailbox relay.
    await stopBrowser()
    await until(() => node('daveConnections', myPeerId).then((n) => n === 0), 10_000, "Dave's circuit to us to close")
    const beforeAway = await node('relayStats')
    expect(beforeAway.storedEnvelopes).toBe(0)
    const toBrowser = `while you were away ${crypto.randomUUID()}`
    expect(await node('daveSend', me, toBrowser)).toBe('deposited')
    const waiting = await node('relayStats')
    expect(waiting.deposits - beforeAway.deposits).toBe(1)
    expect(waiting.storedEnvelopes).toBe(1)
    lap('deposited for the browser')

    // Back from IndexedDB, same identity: the mailbox round drains it, shown exactly once.
    ;({ messenger: m, messages } = await startBrowser(relay.address, false))
    expect(toHex(m.identityKey)).toBe(me)
    expect(m.peerId.toString()).toBe(myPeerId)
    await until(() => messages.some((x) => x.text === toBrowser), 20_000, 'the browser to drain its mailbox')
    await until(() => node('relayStats').then((s) => s.storedEnvelopes === 0), 10_000, 'the relay to empty')
    await sleep(1500)
    expect(messages.map((x) => [x.contact, x.text])).toEqual([[dave.identity, toBrowser]])
    expect((await m.history(dave.identity)).map((h) => [h.direction, h.text])).toEqual([
      ['in', hello],
      ['out', reply],
      ['out', toDave],
      ['in', toBrowser]
    ])
    // Every deposit (our delivered receipt for it too, while it goes through Dave's mailbox) was fetched and
    // acknowledged exactly once: the acks delete them.
    await until(
      async () => m.queued === 0 && (await node('relayStats')).storedEnvelopes === 0,
      10_000,
      'our receipt to leave and the relay to empty'
    )
    const end = await node('relayStats')
    expect(end.acked).toBe(end.deposits)
    expect(end.fetched).toBe(end.deposits)
    lap('browser drained')
    console.log(`relay browser test (ms since start): ${JSON.stringify(mark)}`)
  }, 60_000)
})
