/**
 * Publishing: our DHT record (signed bundle, addresses, mailbox relays), republished on a timer, after an address
 * change and when a relay we use comes back; prekey rotation and top-up; the device certificate renewal; lookups.
 */
import { multiaddr } from '@multiformats/multiaddr'
import {
  availableOneTimePrekeys,
  encodeBundle,
  generateOneTimePrekeys,
  lastResortPrekeyNeedsRotation,
  pruneRetiredPrekeys,
  publishBundle,
  renewDeviceCertificateIfDue,
  rotateLastResortPrekey,
  rotateSignedPrekey
} from '@parley/crypto'
import { type FoundRecord, lookupRecord } from '@parley/network'
import { dhtKeyForIdentity, encodeDhtRecord, signDhtRecord } from '@parley/wire'
import {
  BUNDLE_LIFETIME_MS,
  CERTIFICATE_LIFETIME_MS,
  DEFAULT_LOOKUP_TIMEOUT,
  ONE_TIME_PREKEY_REPLENISH_BELOW,
  ONE_TIME_PREKEY_TARGET,
  PREKEY_ROTATION_MS,
  RECORD_LIFETIME_MS,
  REPUBLISH_RETRY_JITTER,
  REPUBLISH_RETRY_MAX_MS
} from './constants.ts'
import { ADDRESS_REPUBLISH_DELAY_MS, type Core, log, REPUBLISH_RETRY_MS } from './core.ts'

/**
 * Wait before the next publish attempt after `failures` failed publishes in a row (0: none failed, e.g. no peers yet):
 * REPUBLISH_RETRY_MS doubling per further failure up to REPUBLISH_RETRY_MAX_MS, then a random share in
 * [1 − REPUBLISH_RETRY_JITTER, 1] of it (`random` in [0, 1)).
 */
export function republishRetryDelay(failures: number, random: number): number {
  const nominal = Math.min(REPUBLISH_RETRY_MAX_MS, REPUBLISH_RETRY_MS * 2 ** Math.max(0, failures - 1))
  return Math.round(nominal * (1 - REPUBLISH_RETRY_JITTER * random))
}

/** A uniform number in [0, 1) for retry jitter (not a key: the platform's generator, never Math.random). */
const jitter = (): number => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32

export class Publisher {
  private readonly core: Core

  /** Publishes that failed in a row (reset by one that succeeds): the retry backs off with it. */
  publishFailures = 0

  constructor(core: Core) {
    this.core = core
  }

  /** Stops the timers and watches this module runs. */
  stop(): void {
    this.stopRelayWatch?.()
    if (this.republishTimer !== undefined) clearTimeout(this.republishTimer)
  }

  republishTimer: ReturnType<typeof setTimeout> | undefined

  stopRelayWatch: (() => void) | undefined

  /** Publishes (or refreshes) our record in the DHT: signed bundle, device addresses. */
  async publish(options: { signal?: AbortSignal } = {}): Promise<void> {
    const node = this.core.libp2p
    const { bundle } = await this.core.manager.updateAccount(async (state) => {
      const p = await publishBundle(this.core.backend, state, this.core.now(), BUNDLE_LIFETIME_MS)
      return { state: p.state, result: p }
    })
    const record = await signDhtRecord(this.core.backend, this.core.manager.account.identity, {
      bundle: encodeBundle(bundle),
      addresses: node.getMultiaddrs().map((a) => a.bytes),
      mailboxRelays: this.core.mailboxes.mailboxRelays.map((a) => multiaddr(a).bytes),
      sequence: bundle.sequence,
      expiresAt: this.core.now() + RECORD_LIFETIME_MS
    })
    const signal = this.core.signal(DEFAULT_LOOKUP_TIMEOUT, options.signal)
    for await (const _ of node.services.dht.put(dhtKeyForIdentity(this.core.identityKey), encodeDhtRecord(record), {
      signal
    })) {
      // drain the query
    }
  }

  /** Republishes our record once, ADDRESS_REPUBLISH_DELAY_MS after the last address change (debounced). */
  republishSoon(): void {
    if (this.republishTimer !== undefined) clearTimeout(this.republishTimer)
    if (this.core.shutdown.signal.aborted) return
    this.republishTimer = setTimeout(() => {
      this.republishTimer = undefined
      if (this.core.libp2p.getConnections().length === 0) return
      this.publish().catch((e: Error) => log('republishing after an address change failed: %s', e.message))
    }, ADDRESS_REPUBLISH_DELAY_MS)
  }

  async republishLoop(): Promise<void> {
    let published = false
    let attempted = false
    try {
      // Mailboxes first, so the record we publish lists the relays that hold our mail.
      await this.core.mailboxes.refreshMailboxes().catch((e: Error) => log('mailbox round failed: %s', e.message))
      if (this.core.libp2p.getConnections().length > 0) {
        attempted = true
        await this.publish()
        published = true
      }
      await this.replenishPrekeys()
    } catch (e) {
      log('publishing our record failed: %s', (e as Error).message)
    }
    // A published record is refreshed on the timer. A node with no peers yet looks again soon (that costs nothing); a
    // failed put retries after a growing, jittered wait, so an overloaded network is not hit by every node at once.
    this.publishFailures = published ? 0 : attempted ? this.publishFailures + 1 : this.publishFailures
    this.core.later(
      () => this.republishLoop(),
      published ? this.core.republishIntervalMs : republishRetryDelay(attempted ? this.publishFailures : 0, jitter())
    )
  }

  async renewCertificate(): Promise<boolean> {
    return this.core.manager.updateAccount(async (state) => {
      const r = await renewDeviceCertificateIfDue(this.core.backend, state, this.core.now(), CERTIFICATE_LIFETIME_MS)
      return { state: r.state, result: r.renewed }
    })
  }

  async replenishPrekeys(): Promise<void> {
    // A node that runs for months renews its certificate here too.
    await this.renewCertificate()
    await this.core.manager.updateAccount(async (state) => {
      let s = pruneRetiredPrekeys(state, this.core.now())
      // Signed and last-resort prekeys rotate; the old ones stay for PREKEY_GRACE_MS for messages in flight.
      if (this.core.now() - (s.signedPrekeys[0]?.createdAt ?? 0) >= PREKEY_ROTATION_MS)
        s = await rotateSignedPrekey(this.core.backend, s, this.core.now())
      // Early too, once many first messages used it (its replay cache must never be trimmed: see the crypto docs).
      if (
        this.core.now() - (s.lastResortPrekeys[0]?.createdAt ?? 0) >= PREKEY_ROTATION_MS ||
        lastResortPrekeyNeedsRotation(s)
      ) {
        s = await rotateLastResortPrekey(this.core.backend, s, this.core.now())
      }
      for (const kind of ['x25519', 'kem'] as const) {
        if (availableOneTimePrekeys(s, kind) < ONE_TIME_PREKEY_REPLENISH_BELOW) {
          s = await generateOneTimePrekeys(this.core.backend, s, kind, ONE_TIME_PREKEY_TARGET)
        }
      }
      return { state: s, result: undefined }
    })
  }

  /** Finds a contact's current record in the DHT (validated; the newest sequence wins). */
  async lookup(identity: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<FoundRecord> {
    return lookupRecord(this.core.libp2p.services.dht, this.core.backend, identity, this.core.now(), {
      signal: this.core.signal(DEFAULT_LOOKUP_TIMEOUT, options.signal),
      // When Sybils eclipse the walk, the bootstrap and mailbox relays are asked directly.
      fallback: {
        node: this.core.libp2p,
        peers: [...(this.core.networkOptions.bootstrap ?? []), ...this.core.mailboxes.mailboxRelays],
        protocol: this.core.ids.kad
      }
    })
  }
}
