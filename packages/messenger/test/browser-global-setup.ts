/**
 * Global setup of the browser project (runs in Node, once per run): a Node messenger with the Node preset, listening
 * on WebSockets on loopback, that is the browser tests' bootstrap peer and DHT server and an echo bot: every message
 * it receives it answers with `echo: <text>`. Its address and identity reach the tests through `provide`/`inject`.
 */
import { createProfileStore, openStore } from '@parley/store'
import type { TestProject } from 'vitest/node'
import { createMessenger, type MessengerEvents, NAMESPACES } from '../src/index.ts'
import { hex } from './helpers.ts'

/** What the browser tests get from `inject('parleyEchoBot')`. */
export interface EchoBot {
  /** The bot's WebSocket multiaddr with its /p2p/ id (a browser's bootstrap entry). */
  address: string
  /** The bot's identity key (hex), to add it as a contact. */
  identity: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    parleyEchoBot: EchoBot
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const store = await createProfileStore(await openStore({ kind: 'memory' }), 'echo bot', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
  const bot = await createMessenger({ store, network: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] } })
  bot.events.addEventListener('message', (e) => {
    const { contact, text } = (e as CustomEvent<MessengerEvents['message']>).detail
    // The browser cannot be dialed: this reply only arrives because the bot reuses the browser's open connection.
    bot.send(contact, `echo: ${text}`).catch((err: Error) => console.error('echo bot: reply failed:', err.message))
  })
  const address = bot.addresses.find((a) => a.includes('/ws/p2p/'))
  if (address === undefined) throw new Error(`echo bot: no WebSocket address among ${bot.addresses.join(', ')}`)
  project.provide('parleyEchoBot', { address, identity: hex(bot.identityKey) })
  return async () => {
    await bot.stop()
    await store.close()
  }
}
