/**
 * Our own mailboxes: each round keeps our mailbox at up to `target` relays (register, prekey batches, drain; see
 * mailbox-owner.ts for one relay's visit), with the deposit-token hashes our registrations carry.
 */
import { relayName, withMailbox } from '@parley/network'
import { DEPOSIT_TOKEN_BYTES, MAX_DEPOSIT_TOKENS } from '@parley/wire'
import { DEFAULT_LOOKUP_TIMEOUT } from './constants.ts'
import { type Core, log } from './core.ts'
import { keepMailbox, type MailboxOwner } from './mailbox-owner.ts'
import { TOKEN_OUT } from './records.ts'

export class MailboxRounds {
  private readonly core: Core

  constructor(core: Core) {
    this.core = core
    this.owner = {
      backend: core.backend,
      now: core.now,
      account: () => core.manager.account,
      updateAccount: (fn) => core.manager.updateAccount(fn),
      receive: (envelope, claimed) =>
        core.inbound.receiveOnce(envelope.messageId, () =>
          core.inbound.receive(envelope.messageId, envelope.ciphertext, { kind: 'mailbox', claimed })
        ),
      undecryptable: (claimed, messageId, code) => core.resends.askToResend(claimed, messageId, code),
      pageDone: () => core.announcements.announceDrained(),
      log: (format, ...args) => log(format, ...args)
    }
  }

  /** What a mailbox round needs from us (mailbox-owner.ts). */
  readonly owner: MailboxOwner

  /** Relays holding our mailbox now (multiaddrs with /p2p/), as listed in our DHT record. */
  mailboxRelays: string[] = []

  mailboxRound: Promise<boolean> | undefined

  /** Drains our mailboxes now and refreshes registrations and prekey batches (also runs on a timer). */
  async checkMailboxes(): Promise<void> {
    if (await this.refreshMailboxes())
      await this.core.publisher.publish().catch((e: Error) => log('publish failed: %s', e.message))
  }

  async mailboxLoop(): Promise<void> {
    try {
      await this.checkMailboxes()
    } catch (e) {
      log('mailbox round failed: %s', (e as Error).message)
    }
    this.core.later(() => this.mailboxLoop(), this.core.mailboxOptions.pollIntervalMs)
  }

  /** The relays we keep our mailbox at now (multiaddrs with /p2p/). */
  get mailboxes(): readonly string[] {
    return this.mailboxRelays
  }

  /**
   * One mailbox round: at each candidate relay (configured ones, then bootstrap peers) until `target` of them
   * accept, register, open an owner session, top up our one-time prekeys there and drain what waits. Returns whether
   * the set of relays changed (our DHT record should then be republished). One round at a time.
   */
  refreshMailboxes(): Promise<boolean> {
    this.mailboxRound ??= this.mailboxRoundOnce().finally(() => {
      this.mailboxRound = undefined
    })
    return this.mailboxRound
  }

  async mailboxRoundOnce(): Promise<boolean> {
    const candidates = [...new Set([...this.core.mailboxOptions.relays, ...(this.core.networkOptions.bootstrap ?? [])])]
    const tokenHashes = await this.depositTokenHashes()
    const active: string[] = []
    for (const relay of candidates) {
      if (active.length >= this.core.mailboxOptions.target || this.core.shutdown.signal.aborted) break
      const signal = this.core.signal(DEFAULT_LOOKUP_TIMEOUT)
      try {
        await withMailbox(this.core.libp2p, relay, this.core.ids.mailbox, signal, (client) =>
          keepMailbox(this.owner, client, tokenHashes, signal)
        )
        active.push(relay)
      } catch (e) {
        log('mailbox at %s unavailable: %s', relayName(relay), (e as Error).message)
      }
    }
    const changed = active.join(' ') !== this.mailboxRelays.join(' ')
    this.mailboxRelays = active
    return changed
  }

  /** SHA-256 of the deposit tokens we gave out (at most MAX_DEPOSIT_TOKENS), for our registrations. */
  async depositTokenHashes(): Promise<Uint8Array[] | undefined> {
    if (!this.core.mailboxOptions.requireDepositTokens) return undefined
    const hashes: Uint8Array[] = []
    for await (const { value } of this.core.store.query('meta', { prefix: TOKEN_OUT, limit: MAX_DEPOSIT_TOKENS })) {
      hashes.push(await this.core.backend.sha256(value))
    }
    // None given yet: the hash of a token nobody holds, since an empty list would mean "anyone may deposit".
    if (hashes.length === 0)
      hashes.push(await this.core.backend.sha256(this.core.backend.randomBytes(DEPOSIT_TOKEN_BYTES)))
    return hashes
  }
}
