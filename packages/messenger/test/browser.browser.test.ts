/**
 * The browser preset in a real Chromium: a messenger on an IndexedDB profile joins through the Node echo bot of
 * browser-global-setup.ts (its bootstrap peer and DHT server, on ws:// loopback), finds the bot's record in the DHT,
 * sends it a message end to end encrypted and gets the echo back over the same connection (nobody can dial a
 * browser), then reopens the profile from IndexedDB and finds the conversation there. Browser only (the Node project
 * excludes *.browser.test.ts).
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { fromHex, toHex } from '@parley/crypto'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { until } from '@parley/test-kit'
import { afterAll, describe, expect, inject, it } from 'vitest'
import {
  bootstrapDialGate,
  createMessenger,
  type Messenger,
  type MessengerEvents,
  NAMESPACES,
  type Namespace
} from '../src/index.browser.ts'

const PASS = 'browser passphrase'
const databases: string[] = []
const running: Array<{ messenger: Messenger; store: ProfileStore<Namespace> }> = []

afterAll(async () => {
  for (const { messenger, store } of running) {
    await messenger.stop().catch(() => {})
    await store.close().catch(() => {})
  }
  for (const name of databases) {
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.deleteDatabase(name)
      req.onsuccess = () => resolve()
      req.onerror = () => reject(req.error)
    })
  }
})

async function idbProfile(name: string, create: boolean): Promise<ProfileStore<Namespace>> {
  return createProfileStore(await openStore({ kind: 'idb', name }), PASS, {
    namespaces: NAMESPACES,
    create,
    unsafeFastKdfForTests: true
  })
}

describe('browser preset', () => {
  it('the dial gate lets through the bootstrap peers (and circuits through them), nothing else private or ws://', async () => {
    const { address } = inject('parleyEchoBot')
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const deny = bootstrapDialGate([address])
    const denied = (a: string) => deny(multiaddr(a))
    expect(denied(address)).toBe(false)
    expect(denied(`${address}/p2p-circuit/p2p/${other}`)).toBe(false)
    // Same socket, another peer id: not the configured peer.
    expect(denied(address.replace(/\/p2p\/.*$/, `/p2p/${other}`))).toBe(true)
    expect(denied(`/ip4/127.0.0.1/tcp/1/ws/p2p/${other}`)).toBe(true)
    expect(denied(`/ip4/127.0.0.1/tcp/1/ws/p2p/${other}/p2p-circuit/p2p/${other}`)).toBe(true)
    expect(denied(`/ip4/192.168.1.20/tcp/443/wss/p2p/${other}`)).toBe(true)
    expect(denied(`/ip4/8.8.8.8/tcp/80/ws/p2p/${other}`)).toBe(true)
    // libp2p's browser default still holds for everything else: public secure WebSockets are dialable.
    expect(denied(`/ip4/8.8.8.8/tcp/443/wss/p2p/${other}`)).toBe(false)
    expect(denied(`/dns4/relay.example.org/tcp/443/tls/ws/p2p/${other}`)).toBe(false)
    expect(bootstrapDialGate([])(multiaddr(address))).toBe(true)
  })

  it('chats with a Node peer over ws:// through the DHT, and the history is in IndexedDB', async () => {
    const bot = inject('parleyEchoBot')
    const name = `parley-messenger-test-${crypto.randomUUID()}`
    databases.push(name)
    const t0 = performance.now()
    const store = await idbProfile(name, true)
    const m = await createMessenger({ store, network: { bootstrap: [bot.address] } })
    running.push({ messenger: m, store })
    const started = performance.now()
    const messages: MessengerEvents['message'][] = []
    m.events.addEventListener('message', (e) => messages.push((e as CustomEvent<MessengerEvents['message']>).detail))

    await m.addContact(bot.identity, { name: 'echo bot' })
    // The bot publishes its record once it has a connection (ours): poll the DHT until it is there.
    await until(
      async () => {
        try {
          const { record } = await m.lookup(fromHex(bot.identity), { signal: AbortSignal.timeout(3000) })
          return toHex(record.identityKey) === bot.identity
        } catch {
          return false
        }
      },
      20_000,
      "the bot's DHT record"
    )
    const found = performance.now()
    const text = `hello from Chromium ${crypto.randomUUID()}`
    const sent = await m.send(bot.identity, text)
    expect(sent.status).toBe('sent')
    await until(() => messages.some((x) => x.text === `echo: ${text}`), 20_000, 'the echo')
    const echoed = performance.now()
    expect(messages).toHaveLength(1)
    expect(messages[0]!.contact).toBe(bot.identity)
    // The bot's delivered receipt also came back over our connection.
    await until(
      async () => (await m.history(bot.identity)).some((h) => h.direction === 'out' && h.state === 'delivered'),
      20_000,
      'the delivered receipt'
    )
    console.log(
      `browser messenger: start ${Math.round(started - t0)} ms, DHT record found after ${Math.round(found - started)} ms, send → echo ${Math.round(echoed - found)} ms`
    )
    await m.stop()
    await store.close()
    running.length = 0

    // A fresh profile open, offline: what it shows was read back from IndexedDB.
    const reopened = await idbProfile(name, false)
    const offline = await createMessenger({ store: reopened, offline: true })
    running.push({ messenger: offline, store: reopened })
    const history = await offline.history(bot.identity)
    expect(history.map((h) => [h.direction, h.text, h.state])).toEqual([
      ['out', text, 'delivered'],
      ['in', `echo: ${text}`, 'delivered']
    ])
    expect((await offline.contacts()).map((c) => [c.identity, c.name])).toEqual([[bot.identity, 'echo bot']])
  })
})
