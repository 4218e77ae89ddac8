/**
 * The session manager: the one object the messenger uses to start sessions, encrypt and decrypt.
 *
 * Transactions: every operation works on copies (all state is immutable), authenticates, and only then hands the
 * new bytes to `store.commit` in ONE call — together with the plaintext and message id of a received message, or
 * the ciphertext of a sent one — so a store can write them in one atomic batch. The in-memory state changes only
 * once the commit is queued in the store's write order (or resolved, for a store without one); a failed decrypt or
 * a failed commit leaves every stored byte unchanged, and no result leaves before its commit is durable.
 * Operations on one peer device are serialised (KeyedMutex), each until its write is queued (SessionRecords.commit: early
 * lock release, so concurrent messages of one session share a sync); account changes take the account lock as well
 * and hold both until durable.
 */
import { concat } from 'uint8arrays'
import type { AccountState } from './account.ts'
import { encodeAccount } from './account-codec.ts'
import type { CryptoBackend } from './backend/types.ts'
import { type PrekeyBundle, verifyPrekeyBundle } from './bundle.ts'
import { equalBytes, toHex } from './codec.ts'
import {
  MAX_ARCHIVED_SESSIONS,
  MAX_HEADER_TRIALS,
  MAX_PLAINTEXT_BYTES,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  MESSAGE_ID_BYTES,
  MESSAGE_TYPE_INITIAL,
  MESSAGE_TYPE_RATCHET,
  MIN_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS
} from './constants.ts'
import {
  DuplicateMessageError,
  InvalidParameterError,
  MalformedError,
  NoSessionError,
  ParleyCryptoError,
  StaleSessionError,
  UndecryptableHeaderError,
  UnknownPrekeyError,
  UnsupportedVersionError,
  UntrustedIdentityError
} from './errors.ts'
import { verifyCertificate } from './identity.ts'
import { KeyedMutex } from './mutex.ts'
import { initiate, parseInitialMessage, unseal } from './pqxdh.ts'
import type {
  Decrypted,
  DecryptOptions,
  Encrypted,
  EncryptOptions,
  SessionInfo,
  SessionManagerOptions
} from './protocol-types.ts'
import { type DecryptableState, expireSkipped, ratchetDecrypt, ratchetEncrypt } from './ratchet.ts'
import { acceptInitialMessage } from './responder.ts'
import { encodeSessionRecord, promote, replace, type SessionRecord, type SessionState } from './session.ts'
import { SessionRecords } from './session-records.ts'
import type { ProtocolStore, ProtocolTransaction } from './storage/types.ts'

/** Work bound per incoming ratchet frame: header trials in the current and each archived session. */
export const MAX_TRIALS_PER_FRAME = MAX_HEADER_TRIALS * (1 + MAX_ARCHIVED_SESSIONS)

/** Names a peer device: its identity key and its device key. */
export function deviceAddress(identityKey: Uint8Array, deviceKey: Uint8Array): string {
  return `${toHex(identityKey)}.${toHex(deviceKey)}`
}

/** Creates a session manager over an account and a store. */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  return new SessionManager(options)
}

/** See the module comment. */
export class SessionManager {
  private readonly backend: CryptoBackend
  private readonly store: ProtocolStore
  private readonly now: () => number
  private readonly locks = new KeyedMutex()
  private readonly records: SessionRecords
  private accountState: AccountState

  constructor(options: SessionManagerOptions) {
    this.backend = options.backend
    this.store = options.store
    this.records = new SessionRecords(options.store)
    this.now = options.now ?? Date.now
    this.accountState = options.account
  }

  /** The account as last committed. */
  get account(): AccountState {
    return this.accountState
  }

  /** This device's address. */
  get address(): string {
    const c = this.accountState.device.certificate
    return deviceAddress(c.identityKey, c.deviceKey)
  }

  /** Changes the account (prekey rotation, hand-out) under the account lock and commits it. */
  async updateAccount<T>(change: (state: AccountState) => Promise<{ state: AccountState; result: T }>): Promise<T> {
    return this.locks.run('\0account', async () => {
      const { state, result } = await change(this.accountState)
      await this.store.commit({ sessions: [], account: encodeAccount(state) })
      this.accountState = state
      return result
    })
  }

  /** Summary of the current session with a peer device, if any. */
  async sessionInfo(address: string): Promise<SessionInfo | undefined> {
    return this.locks.run(address, async () => {
      const record = await this.records.load(address)
      const s = record.current
      if (s === undefined) return undefined
      return {
        sessionId: s.sessionId,
        initiator: s.initiator,
        acknowledged: s.pendingPrefix === undefined,
        archived: record.archived.length,
        remoteIdentityKey: s.remote.identityKey
      }
    })
  }

  /** Archives the current session with a peer (the next send needs a new bundle); late messages still decrypt. */
  async archiveCurrentSession(address: string): Promise<void> {
    await this.locks.run(address, async (release) => {
      const record = await this.records.load(address)
      if (record.current === undefined) return
      const next: SessionRecord = { archived: [record.current, ...record.archived].slice(0, MAX_ARCHIVED_SESSIONS) }
      await this.records.commit(address, next, { sessions: [{ address, record: encodeSessionRecord(next) }] }, release)
    })
  }

  /**
   * Forgets every session with a peer device: `remove` deletes the stored record, under this address's lock so that
   * no decryption or encryption in flight writes it back. (The messenger drops a declined message request this way.)
   */
  async removeSession(address: string, remove: () => Promise<void>): Promise<void> {
    await this.locks.run(address, async () => {
      await remove()
      this.records.forget(address)
    })
  }

  /**
   * Verifies a peer's bundle and starts a session with it (PQXDH as initiator). The new session becomes current;
   * a previous one is archived. Returns the peer's address. `expectedIdentity` refuses a bundle of another identity.
   */
  async startSession(prekeyBundle: PrekeyBundle, options: { expectedIdentity?: Uint8Array } = {}): Promise<string> {
    const now = this.now()
    const version = await verifyPrekeyBundle(this.backend, prekeyBundle, now, options.expectedIdentity)
    const remote = prekeyBundle.bundle.certificate
    const address = deviceAddress(remote.identityKey, remote.deviceKey)
    const local = this.accountState.device
    const init = await initiate(this.backend, local, prekeyBundle, version)
    const state: SessionState = {
      version,
      sessionId: init.baseKey,
      initiator: true,
      local: local.certificate,
      remote,
      ratchet: init.ratchet,
      pendingPrefix: init.prefix,
      createdAt: now,
      associatedData: init.associatedData
    }
    await this.locks.run(address, async (release) => {
      const record = promote(await this.records.load(address), state)
      await this.records.commit(
        address,
        record,
        { sessions: [{ address, record: encodeSessionRecord(record) }] },
        release
      )
    })
    return address
  }

  /** Encrypts for a peer device on the current session. */
  async encrypt(address: string, plaintext: Uint8Array, options: EncryptOptions = {}): Promise<Encrypted> {
    if (!(plaintext instanceof Uint8Array)) throw new InvalidParameterError('plaintext', 'a Uint8Array')
    if (plaintext.length > MAX_PLAINTEXT_BYTES)
      throw new InvalidParameterError('plaintext', `at most ${MAX_PLAINTEXT_BYTES} bytes`)
    const messageId = options.messageId ?? this.backend.randomBytes(MESSAGE_ID_BYTES)
    checkMessageId(messageId)
    return this.locks.run(address, async (release) => {
      const record = await this.records.load(address)
      const s = record.current
      if (s === undefined) throw new NoSessionError('no session with this peer: start one from its bundle')
      const now = this.now()
      if (s.pendingPrefix !== undefined && now - s.createdAt > MAX_UNACKNOWLEDGED_SESSION_AGE_MS) {
        throw new StaleSessionError(now - s.createdAt)
      }
      const { frame, state: ratchet } = await ratchetEncrypt(
        this.backend,
        s.ratchet,
        plaintext,
        s.associatedData,
        messageId,
        s.version
      )
      const ciphertext = s.pendingPrefix === undefined ? frame : concat([s.pendingPrefix, frame])
      const next = replace(record, s, { ...s, ratchet })
      const tx = {
        sessions: [{ address, record: encodeSessionRecord(next) }],
        sent: { address, messageId, ciphertext }
      }
      await this.records.commit(address, next, tx, release)
      return { ciphertext, messageId, initial: s.pendingPrefix !== undefined }
    })
  }

  /**
   * The peer's device answered, over its own authenticated connection and after its durable commit, that it stored
   * `ciphertext` (a frame we sent to `address`). If that frame was an initial message, its session is acknowledged:
   * later messages go out as plain ratchet messages, so the peer no longer opens a KEM ciphertext and a sealed
   * certificate with every one of them. Signal waits for a reply instead; a stored-ack from the device proves as much
   * (the device holds the session). A false ack can only cost the sender a session reset, never confidentiality.
   * True when a session changed.
   */
  async confirmDelivered(address: string, ciphertext: Uint8Array): Promise<boolean> {
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length === 0) return false
    if ((ciphertext[0]! & 0x0f) !== MESSAGE_TYPE_INITIAL) return false
    const { baseKey } = parseInitialMessage(ciphertext)
    return this.locks.run(address, async (release) => {
      const record = await this.records.load(address)
      const s = [record.current, ...record.archived].find(
        (s) => s !== undefined && s.pendingPrefix !== undefined && equalBytes(s.sessionId, baseKey)
      )
      if (s === undefined) return false
      const { pendingPrefix: _acknowledged, ...rest } = s
      const next = replace(record, s, rest)
      await this.records.commit(address, next, { sessions: [{ address, record: encodeSessionRecord(next) }] }, release)
      return true
    })
  }

  /**
   * Decrypts a message. Ratchet messages need `options.address` (the transport knows who sent them); initial
   * messages name their sender inside the sealed part (and must match `options.address` when it is given).
   */
  async decrypt(ciphertext: Uint8Array, options: DecryptOptions): Promise<Decrypted> {
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length === 0) throw new MalformedError('message', 'empty')
    checkMessageId(options.messageId)
    const type = ciphertext[0]!
    const version = type >> 4
    if (version < MIN_PROTOCOL_VERSION || !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw new UnsupportedVersionError('message', version)
    }
    if ((type & 0x0f) === MESSAGE_TYPE_RATCHET) {
      if (options.address === undefined) throw new NoSessionError('a ratchet message needs the sender address')
      const address = options.address
      return this.locks.run(address, (release) => this.decryptRatchet(address, ciphertext, options.messageId, release))
    }
    if ((type & 0x0f) === MESSAGE_TYPE_INITIAL) return this.decryptInitial(ciphertext, options)
    throw new MalformedError('message', 'unknown type')
  }

  private async decryptRatchet(
    address: string,
    frame: Uint8Array,
    messageId: Uint8Array,
    release: () => void
  ): Promise<Decrypted> {
    const record = await this.records.load(address)
    const candidates = [record.current, ...record.archived].filter((s) => s !== undefined)
    if (candidates.length === 0) throw new NoSessionError('no session with this peer')
    let trials = 0
    for (const s of candidates) {
      try {
        return await this.decryptIn(address, record, s, s.ratchet, frame, messageId, { release })
      } catch (e) {
        // Only a header that opened under no key of this session moves on to the next one; any other failure means
        // this session is the right one and the message is bad (duplicate, tampered body, gap too large).
        if (!(e instanceof UndecryptableHeaderError)) throw e
        trials += MAX_HEADER_TRIALS
      }
    }
    throw new UndecryptableHeaderError(trials)
  }

  /** Decrypts in one session on a copy; commits the record (promoting the session) with the plaintext. */
  private async decryptIn(
    address: string,
    record: SessionRecord,
    session: SessionState | undefined,
    ratchetState: DecryptableState,
    frame: Uint8Array,
    messageId: Uint8Array,
    extra: { fresh?: SessionState; account?: AccountState; release?: () => void }
  ): Promise<Decrypted> {
    const now = this.now()
    const base = session ?? extra.fresh!
    const start = 'signedPrekey' in ratchetState ? ratchetState : expireSkipped(ratchetState, now)
    const { plaintext, state: ratchet } = await ratchetDecrypt(
      this.backend,
      start,
      frame,
      base.associatedData,
      messageId,
      now
    )
    // Any authenticated message from the peer acknowledges the session: stop sending initial messages.
    const { pendingPrefix: _acknowledged, ...rest } = base
    const updated: SessionState = { ...rest, ratchet }
    const next = session === undefined ? promote(record, updated) : promote(record, updated, session)
    const tx: ProtocolTransaction = {
      sessions: [{ address, record: encodeSessionRecord(next) }],
      ...(extra.account !== undefined && { account: encodeAccount(extra.account) }),
      received: { address, messageId, plaintext }
    }
    // An account change holds the account lock as well: that path keeps both until the commit is durable.
    await this.records.commit(address, next, tx, extra.account === undefined ? extra.release : undefined)
    if (extra.account !== undefined) this.accountState = extra.account
    return {
      plaintext,
      address,
      identityKey: base.remote.identityKey,
      deviceKey: base.remote.deviceKey,
      sessionId: base.sessionId,
      newSession: session === undefined
    }
  }

  private async decryptInitial(bytes: Uint8Array, options: DecryptOptions): Promise<Decrypted> {
    const msg = parseInitialMessage(bytes)
    const account = this.accountState
    const spk = account.signedPrekeys.find((p) => p.id === msg.signedPrekeyId)
    if (spk === undefined) throw new UnknownPrekeyError('signed', msg.signedPrekeyId)
    const now = this.now()
    const opened = await unseal(this.backend, account.device, spk.keyPair, msg)
    await verifyCertificate(this.backend, opened.certificate, now)
    const sender = opened.certificate
    const address = deviceAddress(sender.identityKey, sender.deviceKey)
    if (options.address !== undefined && options.address !== address) {
      throw new UntrustedIdentityError('initial message is sealed by another identity than the sender address')
    }
    if (options.deviceKey !== undefined && !equalBytes(options.deviceKey, sender.deviceKey)) {
      throw new UntrustedIdentityError('initial message names another device than the one that sent it')
    }
    return this.locks.run(address, async (release) => {
      const record = await this.records.load(address)
      // A first message of a session we already have (a duplicate, or one of several sent before the reply).
      const existing = [record.current, ...record.archived].find(
        (s) => s !== undefined && equalBytes(s.sessionId, msg.baseKey)
      )
      if (existing !== undefined) {
        try {
          return await this.decryptIn(address, record, existing, existing.ratchet, msg.frame, options.messageId, {
            release
          })
        } catch (e) {
          // The session this first message started is here, only the chain it was sent on is gone (the conversation
          // moved on): a repeat, typically one more copy through a relay. Never a reason to reset the session.
          if (e instanceof UndecryptableHeaderError) throw new DuplicateMessageError()
          throw e
        }
      }
      return this.locks.run('\0account', async () => {
        const acct = this.accountState
        const accepted = await acceptInitialMessage(this.backend, acct, msg, spk, sender, opened)
        const fresh: Omit<SessionState, 'ratchet'> & { ratchet: SessionState['ratchet'] } = {
          version: msg.version,
          sessionId: msg.baseKey,
          initiator: false,
          local: acct.device.certificate,
          remote: sender,
          // Replaced by the state ratchetDecrypt returns; decryptIn never reads it for a fresh session.
          ratchet: undefined as never,
          createdAt: now,
          associatedData: accepted.associatedData
        }
        return this.decryptIn(address, record, undefined, accepted.pending, msg.frame, options.messageId, {
          fresh,
          account: accepted.account
        })
      })
    })
  }
}

function checkMessageId(id: unknown): void {
  if (!(id instanceof Uint8Array) || id.length !== MESSAGE_ID_BYTES) {
    throw new InvalidParameterError('messageId', `${MESSAGE_ID_BYTES} bytes`)
  }
}

/**
 * True for errors after which the messenger should start a fresh session with the peer (reset). One more signal only
 * the messenger can see: DuplicateMessage for a message id it has never received means the sender was restored from
 * a backup and reuses message numbers; reset then too.
 */
export function needsSessionReset(e: unknown): boolean {
  return (
    e instanceof ParleyCryptoError &&
    (e.code === 'NoSession' ||
      e.code === 'UndecryptableHeader' ||
      e.code === 'StaleSession' ||
      e.code === 'RatchetFork')
  )
}
