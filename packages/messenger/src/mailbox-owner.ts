/**
 * Keeping our own mailbox at one relay: register (signed, with the deposit-token hashes), open an owner session, top
 * up the one-time prekeys the relay hands out for us, and drain what waits there. The messenger runs this for each of
 * its mailbox relays every round (see `Messenger.checkMailboxes`).
 */
import {
  type AccountState,
  availableOneTimePrekeys,
  type CryptoBackend,
  deviceAddress,
  generateOneTimePrekeys,
  handOutOneTimePrekeys,
  openDeviceSeal,
  type RawKeyPair,
  type SignedOneTimePrekey,
  toHex
} from '@parley/crypto'
import type { MailboxClient } from '@parley/network'
import { decodeAck, decodeEnvelope, type Envelope } from '@parley/wire'
import {
  MAILBOX_PREKEY_BATCH,
  MAILBOX_PREKEY_TOP_UP_BELOW,
  MAILBOX_REGISTRATION_LIFETIME_MS,
  ONE_TIME_PREKEY_REPLENISH_BELOW,
  ONE_TIME_PREKEY_TARGET
} from './constants.ts'

/** What a mailbox round needs from the messenger. */
export interface MailboxOwner {
  readonly backend: CryptoBackend
  readonly now: () => number
  /** Our account now (identity, device agreement key). */
  account(): AccountState
  /** Changes the account through the session manager (one committed update). */
  updateAccount<T>(fn: (state: AccountState) => Promise<{ state: AccountState; result: T }>): Promise<T>
  /** Receives one envelope like a direct message, deduplicated; returns the encoded ack. */
  receive(envelope: Envelope, claimedSender: string | undefined): Promise<Uint8Array>
  /** Mail we could not open (the ack's error code): the sender may be asked to resend it. */
  undecryptable(claimedSender: string | undefined, messageId: Uint8Array, code: string): Promise<void>
  /** A page of mail is stored: announce it (in each sender's order). */
  pageDone(): void
  log(format: string, ...args: unknown[]): void
}

/** One visit to one relay: register, authenticate, top up prekeys, drain. Throws when the relay refuses or fails. */
export async function keepMailbox(
  owner: MailboxOwner,
  client: MailboxClient,
  tokenHashes: readonly Uint8Array[] | undefined,
  signal: AbortSignal
): Promise<void> {
  const identity = owner.account().identity
  await client.register(
    owner.backend,
    identity,
    {
      expiresAt: owner.now() + MAILBOX_REGISTRATION_LIFETIME_MS,
      ...(tokenHashes !== undefined && { depositTokenHashes: tokenHashes })
    },
    { signal }
  )
  const held = await client.authenticate(owner.backend, identity, { signal })
  await topUpPrekeys(owner, client, held, signal)
  await drainMailbox(owner, client, signal)
}

/** Leaves fresh one-time prekeys of each kind the relay is short of (each handed out to this relay only). */
async function topUpPrekeys(
  owner: MailboxOwner,
  client: MailboxClient,
  held: { x25519: number; kem: number },
  signal: AbortSignal
): Promise<void> {
  const want = {
    x25519: held.x25519 < MAILBOX_PREKEY_TOP_UP_BELOW ? MAILBOX_PREKEY_BATCH - held.x25519 : 0,
    kem: held.kem < MAILBOX_PREKEY_TOP_UP_BELOW ? MAILBOX_PREKEY_BATCH - held.kem : 0
  }
  if (want.x25519 === 0 && want.kem === 0) return
  // Marked handed out (committed) before they leave: a batch given to this relay is never given to anyone else.
  const prekeys = await owner.updateAccount(async (state) => {
    let s = state
    const out: SignedOneTimePrekey[] = []
    for (const kind of ['x25519', 'kem'] as const) {
      if (want[kind] === 0) continue
      if (availableOneTimePrekeys(s, kind) < want[kind] + ONE_TIME_PREKEY_REPLENISH_BELOW) {
        s = await generateOneTimePrekeys(owner.backend, s, kind, want[kind] + ONE_TIME_PREKEY_TARGET)
      }
      const h = handOutOneTimePrekeys(s, kind, want[kind], owner.now())
      s = h.state
      out.push(...h.prekeys)
    }
    return { state: s, result: out }
  })
  await client.putPrekeys(prekeys, { signal })
}

/**
 * Fetches what waits at a relay, page by page: each envelope is received like a direct message (decrypted and stored
 * durably, or recognised as a duplicate) and only then acknowledged, so the relay deletes nothing we have not stored.
 * An envelope that can never be opened (malformed, or the ratchet refuses it) is acknowledged too: keeping it would
 * only fill the mailbox; when the reason is a session problem, its sender is asked to resend it. A store failure throws: the item stays at the relay for the next round.
 */
async function drainMailbox(owner: MailboxOwner, client: MailboxClient, signal: AbortSignal): Promise<number> {
  let total = 0
  for (;;) {
    const { items, more } = await client.fetch({ signal })
    const done: number[] = []
    for (const item of items) {
      let envelope: Envelope
      try {
        envelope = decodeEnvelope(item.envelope)
      } catch {
        done.push(item.id)
        continue
      }
      const claimed = await openSealedSender(owner.backend, owner.account().device.agreementKeyPair, envelope)
      const ack = decodeAck(await owner.receive(envelope, claimed))
      if (ack.status !== 'ok') {
        owner.log('mailbox message %s refused: %s', toHex(envelope.messageId), ack.errorCode)
        // Acknowledged at the relay all the same (it can never be opened as it is), but never silently: the sender
        // still has it and is asked to send it again on a new session.
        await owner.undecryptable(claimed, envelope.messageId, ack.errorCode)
      }
      done.push(item.id)
    }
    owner.pageDone()
    await client.ack(done, { signal })
    total += items.length
    if (!more || items.length === 0) return total
  }
}

/** The sender's device address a deposit claims (sealed to our device), if it opens. */
async function openSealedSender(
  backend: CryptoBackend,
  agreementKeyPair: RawKeyPair,
  envelope: Envelope
): Promise<string | undefined> {
  if (envelope.sealedSender === undefined) return undefined
  try {
    const bytes = await openDeviceSeal(backend, agreementKeyPair, envelope.sealedSender)
    if (bytes.length <= 32) return undefined
    return deviceAddress(bytes.subarray(0, 32), bytes.subarray(32))
  } catch {
    return undefined
  }
}
