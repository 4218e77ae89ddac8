/**
 * @parley/messenger for browsers: the same API as the Node entry, with the browser preset (WebSockets and circuit
 * relay, kad-dht in client mode) as the default libp2p node. Imports nothing from Node (no TCP, mDNS or node:*), so
 * bundlers that pick the `browser` export condition never pull the Node transports in.
 */

export {
  bootstrapDialGate,
  type CourierFactory,
  createBrowserCourier,
  createBrowserLibp2p,
  type Libp2pFactory,
  MailboxClient,
  MailboxError,
  type NetworkOptions,
  type ParleyServices
} from '@parley/network'
export * from './api.ts'

import { createBrowserCourier, createBrowserLibp2p } from '@parley/network'
import { type Messenger, type MessengerOptions, startMessenger } from './messenger.ts'

/**
 * Creates and starts a messenger over an opened profile (IndexedDB in a browser: `openStore({ kind: 'idb', name })`),
 * with the browser preset unless `options.libp2p` says otherwise. Creates the identity on first use.
 */
export function createMessenger(options: MessengerOptions): Promise<Messenger> {
  return startMessenger({ libp2p: createBrowserLibp2p, courier: createBrowserCourier, ...options })
}
