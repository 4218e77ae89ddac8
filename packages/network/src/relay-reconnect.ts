/**
 * Noticing that a relay we rely on (a bootstrap peer, a mailbox relay) came back. A relay that restarted serves the
 * DHT records it kept on disk, but ours may be stale there (or, on an older relay, gone): republishing as soon as we
 * reconnect to it, instead of at the next periodic republish, shortens the window in which lookups through it miss us.
 */
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { RELAY_RECONNECT_REPUBLISH_DELAY_MS } from './constants.ts'

/** Peer id strings of `relays` (multiaddrs ending in /p2p/<id>); entries without one are skipped. */
function relayIds(relays: readonly string[]): Set<string> {
  const ids = new Set<string>()
  for (const r of relays) {
    try {
      const id = multiaddr(r)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value
      if (id !== undefined) ids.add(id)
    } catch {
      // not a multiaddr
    }
  }
  return ids
}

/**
 * Calls `onReconnect(peerId)` once, `delayMs` after one of `relays` connects again after its connection was lost
 * (several such reconnects within the delay make one call). The first connection after start does not count: the
 * caller publishes on start anyway. `relays` is read on every event, so a caller may pass a getter's result through
 * a function to follow a changing list. Returns a function that stops listening.
 */
export function onRelayReconnect(
  node: Pick<Libp2p, 'addEventListener' | 'removeEventListener'>,
  relays: readonly string[] | (() => readonly string[]),
  onReconnect: (peerId: string) => void,
  options: { delayMs?: number } = {}
): () => void {
  const delayMs = options.delayMs ?? RELAY_RECONNECT_REPUBLISH_DELAY_MS
  const list = typeof relays === 'function' ? relays : () => relays
  const lost = new Set<string>()
  const seen = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let pending: string | undefined
  const onDisconnect = (e: CustomEvent<{ toString(): string }>) => {
    const id = e.detail.toString()
    if (relayIds(list()).has(id)) lost.add(id)
  }
  const onConnect = (e: CustomEvent<{ toString(): string }>) => {
    const id = e.detail.toString()
    if (!relayIds(list()).has(id)) return
    const returning = lost.delete(id) && seen.has(id)
    seen.add(id)
    if (!returning) return
    pending = id
    timer ??= setTimeout(() => {
      timer = undefined
      if (pending !== undefined) onReconnect(pending)
      pending = undefined
    }, delayMs)
  }
  node.addEventListener('peer:disconnect', onDisconnect)
  node.addEventListener('peer:connect', onConnect)
  return () => {
    node.removeEventListener('peer:disconnect', onDisconnect)
    node.removeEventListener('peer:connect', onConnect)
    clearTimeout(timer)
    timer = undefined
  }
}
