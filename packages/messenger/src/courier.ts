/**
 * Reaching mailbox relays: opening a mailbox stream to a relay address, and running a few requests from a throwaway
 * libp2p identity (the courier) so that what a sender deposits or asks for is never tied to its own peer id.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import type { CourierFactory } from './dht-options.ts'
import { InvalidInputError } from './errors.ts'
import { MailboxClient } from './mailbox-client.ts'

/** Opens a mailbox stream from `node` to the relay at `address` (a multiaddr with /p2p/). */
export async function openMailbox(
  node: Libp2p,
  address: string,
  protocol: string,
  signal: AbortSignal
): Promise<MailboxClient> {
  const ma = multiaddr(address)
  const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
  if (id === undefined) throw new InvalidInputError('relay', 'a multiaddr ending in /p2p/<peer id>')
  const stream = await node.dialProtocol(ma, protocol, { signal })
  return new MailboxClient(stream, peerIdFromString(id))
}

/** Runs `fn` with a fresh courier node (new key each time), stopped afterwards whatever happens. */
export async function withCourier<T>(
  factory: CourierFactory,
  dialable: readonly string[],
  fn: (courier: Libp2p) => Promise<T>
): Promise<T> {
  const courier = await factory(await generateKeyPair('Ed25519'), dialable)
  await courier.start()
  try {
    return await fn(courier)
  } finally {
    await Promise.resolve(courier.stop()).catch(() => {})
  }
}

/** The relay's peer id string of a relay address (for delivery state and logs), or the address itself. */
export function relayName(address: string): string {
  try {
    return (
      multiaddr(address)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value ?? address
    )
  } catch {
    return address
  }
}
