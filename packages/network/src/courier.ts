/**
 * Reaching mailbox relays: opening a mailbox stream to a relay address, and running a few requests from a throwaway
 * libp2p identity (the courier) so that what a sender deposits or asks for is never tied to its own peer id.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { SignedOneTimePrekey } from '@parley/crypto'
import type { Libp2p } from 'libp2p'
import type { CourierFactory } from './dht-options.ts'
import { InvalidNetworkInputError } from './errors.ts'
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
  if (id === undefined) throw new InvalidNetworkInputError('relay', 'a multiaddr ending in /p2p/<peer id>')
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

/** Runs `fn` on a mailbox stream to `relay` from `node`; closes the stream after, or aborts it when `fn` throws. */
export async function withMailbox<T>(
  node: Libp2p,
  relay: string,
  protocol: string,
  signal: AbortSignal,
  fn: (client: MailboxClient) => Promise<T>
): Promise<T> {
  const client = await openMailbox(node, relay, protocol, signal)
  try {
    const result = await fn(client)
    await client.close()
    return result
  } catch (e) {
    client.abort(e instanceof Error ? e : new Error(String(e)))
    throw e
  }
}

type Log = (format: string, ...args: unknown[]) => void

/**
 * Deposits `envelope` for `recipient` at each of `relays` at once, from one fresh courier. Returns the peer ids of
 * the relays that stored it (durably: a relay answers only after its sync); failures are logged, not thrown.
 */
export function depositAtRelays(
  factory: CourierFactory,
  protocol: string,
  relays: readonly string[],
  deposit: { recipient: Uint8Array; envelope: Uint8Array; depositToken?: Uint8Array | undefined },
  signal: AbortSignal,
  log: Log
): Promise<string[]> {
  return withCourier(factory, relays, async (courier) => {
    const results = await Promise.allSettled(
      relays.map((relay) =>
        withMailbox(courier, relay, protocol, signal, async (client) => {
          await client.deposit(deposit.recipient, deposit.envelope, {
            signal,
            ...(deposit.depositToken !== undefined && { depositToken: deposit.depositToken })
          })
          return relayName(relay)
        })
      )
    )
    for (const r of results) if (r.status === 'rejected') log('deposit failed: %s', (r.reason as Error).message)
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  })
}

/** One-time prekeys of `owner` from the first of `relays` that still has any (from a fresh courier); [] if none. */
export function takePrekeysAtRelays(
  factory: CourierFactory,
  protocol: string,
  relays: readonly string[],
  owner: Uint8Array,
  signal: AbortSignal,
  log: Log
): Promise<SignedOneTimePrekey[]> {
  return withCourier(factory, relays, async (courier) => {
    for (const relay of relays) {
      try {
        const keys = await withMailbox(courier, relay, protocol, signal, (client) =>
          client.takePrekeys(owner, { signal })
        )
        if (keys.length > 0) return keys
      } catch (e) {
        log('no one-time prekeys from relay %s: %s', relayName(relay), (e as Error).message)
      }
    }
    return []
  })
}
