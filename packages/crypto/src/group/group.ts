/**
 * One member's view of an MLS group (RFC 9420, via ts-mls) with Parley's rules on top: every leaf carries a verified
 * member credential (credential.ts, members.ts), the group context carries the name and admins (metadata.ts), and
 * only an admin's commit may add, remove, rename or change admins (admin-rule.ts). This file is the group's front:
 * create, join, save and restore, the epoch's facts, encrypt, commit and process (application messages: application.ts).
 * An `MlsGroup` is immutable: every operation returns the next one, so a caller keeps older states (the messenger keeps
 * a few epochs to resolve competing commits) and commits a new state only after the message verified.
 */
import {
  type CiphersuiteImpl,
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  encodeGroupState,
  encodeMlsMessage,
  joinGroup,
  makePskIndex,
  mlsExporter,
  processMessage,
  type Welcome
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js'
import type { CryptoBackend } from '../backend/types.ts'
import { equalBytes } from '../codec.ts'
import { CommitReview, changeProposals } from './admin-rule.ts'
import { openApplication, type PrivateMessage } from './application.ts'
import {
  EXPORTER_GROUP_TOPIC,
  GROUP_FORMAT_VERSION,
  GROUP_ID_BYTES,
  GROUP_MAX_FORWARD_GENERATIONS,
  GROUP_RETAINED_EPOCHS,
  GROUP_RETAINED_GENERATIONS,
  GROUP_TOPIC_SECRET_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_PLAINTEXT_BYTES,
  MAX_GROUP_STATE_BYTES
} from './constants.ts'
import { type MemberCredential, memberAuthenticationService, parseMemberCredential } from './credential.ts'
import { GroupInvalidMessageError, GroupLimitError, GroupNotAuthorisedError, GroupWrongEpochError } from './errors.ts'
import type { KeyPackageSecret } from './key-package.ts'
import { type GroupMember, leafMembers } from './members.ts'
import { decodeMessage } from './message.ts'
import { type GroupMetadata, metadataExtension, metadataFrom } from './metadata.ts'
import { groupSuite } from './suite.ts'

export type { GroupMember } from './members.ts'
export { mlsMessageEpoch } from './message.ts'

/** What a membership/metadata change asks for; applied in one commit by an admin. */
export interface GroupChange {
  /** Encoded key packages (MLS messages) of members to add, each already verified by the caller's contact rule. */
  readonly add?: readonly Uint8Array[]
  /** Identity keys of members to remove. */
  readonly remove?: readonly Uint8Array[]
  readonly name?: string
  readonly admins?: readonly Uint8Array[]
}

/** The result of processing an incoming MLS message. */
export type GroupProcessed =
  | {
      readonly kind: 'application'
      readonly group: MlsGroup
      readonly sender: GroupMember
      readonly epoch: bigint
      readonly plaintext: Uint8Array
    }
  | {
      readonly kind: 'commit'
      readonly group: MlsGroup
      readonly committer: GroupMember
      /** The epoch the commit left (the new state is at epoch + 1). */
      readonly epoch: bigint
      readonly added: readonly MemberCredential[]
      readonly removed: readonly MemberCredential[]
    }

/** A commit made by this member: broadcast `commit`, send `welcome` (with `ratchetTree`) to the added members. */
export interface GroupCommitted {
  readonly group: MlsGroup
  readonly commit: Uint8Array
  readonly welcome?: Uint8Array
  readonly ratchetTree: Uint8Array
}

function clientConfig(backend: CryptoBackend) {
  return {
    ...defaultClientConfig,
    keyRetentionConfig: {
      retainKeysForGenerations: GROUP_RETAINED_GENERATIONS,
      retainKeysForEpochs: GROUP_RETAINED_EPOCHS,
      maximumForwardRatchetSteps: GROUP_MAX_FORWARD_GENERATIONS
    },
    authService: memberAuthenticationService(backend)
  }
}

/** One member's state of one MLS group at one epoch (immutable). */
export class MlsGroup {
  readonly state: ClientState
  private readonly backend: CryptoBackend
  private readonly cs: CiphersuiteImpl

  private constructor(backend: CryptoBackend, cs: CiphersuiteImpl, state: ClientState) {
    this.backend = backend
    this.cs = cs
    this.state = state
  }

  /** Creates a group whose only member (and admin) is the owner of `self`. */
  static async create(
    backend: CryptoBackend,
    self: KeyPackageSecret,
    options: { groupId?: Uint8Array; name: string }
  ): Promise<MlsGroup> {
    const cs = await groupSuite(backend)
    const groupId = options.groupId ?? backend.randomBytes(GROUP_ID_BYTES)
    if (groupId.length !== GROUP_ID_BYTES) throw new GroupInvalidMessageError('group id length')
    const me = parseMemberCredential(self.publicPackage.leafNode.credential)
    const ext = metadataExtension({ name: options.name, admins: [me.identityKey] })
    const state = await createGroup(groupId, self.publicPackage, self.privatePackage, [ext], cs, clientConfig(backend))
    return new MlsGroup(backend, cs, state)
  }

  /** Joins from a Welcome (and the ratchet tree the adder sent with it), with the key package the welcome names. */
  static async join(
    backend: CryptoBackend,
    self: KeyPackageSecret,
    welcome: Uint8Array,
    ratchetTree: Uint8Array
  ): Promise<MlsGroup> {
    const cs = await groupSuite(backend)
    const m = decodeMessage(welcome)
    if (m.wireformat !== 'mls_welcome') throw new GroupInvalidMessageError('not a welcome')
    const tree = decodeRatchetTree(ratchetTree, 0)
    if (tree === undefined || tree[1] !== ratchetTree.length) throw new GroupInvalidMessageError('ratchet tree')
    let state: ClientState
    try {
      state = await joinGroup(
        m.welcome as Welcome,
        self.publicPackage,
        self.privatePackage,
        makePskIndex(undefined, {}),
        cs,
        tree[0],
        undefined,
        clientConfig(backend)
      )
    } catch (e) {
      throw new GroupInvalidMessageError(`welcome rejected (${(e as Error).name})`)
    }
    const group = new MlsGroup(backend, cs, state)
    group.metadata() // a group without Parley metadata is not one of ours
    return group
  }

  /** Restores a group saved with `encode()` (strict: the whole input must decode). */
  static async decode(backend: CryptoBackend, bytes: Uint8Array): Promise<MlsGroup> {
    if (bytes.length === 0 || bytes.length > MAX_GROUP_STATE_BYTES) throw new GroupInvalidMessageError('state size')
    if (bytes[0] !== GROUP_FORMAT_VERSION) throw new GroupInvalidMessageError('state version')
    let decoded: ReturnType<typeof decodeGroupState>
    try {
      decoded = decodeGroupState(bytes, 1)
    } catch {
      throw new GroupInvalidMessageError('state does not decode')
    }
    if (decoded === undefined || decoded[1] !== bytes.length - 1)
      throw new GroupInvalidMessageError('state does not decode')
    return new MlsGroup(backend, await groupSuite(backend), { ...decoded[0], clientConfig: clientConfig(backend) })
  }

  /** The state's saved form: a version byte, then ts-mls's GroupState encoding (holds private keys: store encrypted). */
  encode(): Uint8Array {
    const body = encodeGroupState(this.state)
    const out = new Uint8Array(body.length + 1)
    out[0] = GROUP_FORMAT_VERSION
    out.set(body, 1)
    return out
  }

  get groupId(): Uint8Array {
    return this.state.groupContext.groupId
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch
  }

  /** Our leaf index. */
  get ownLeafIndex(): number {
    return this.state.privatePath.leafIndex
  }

  /** Hash binding the whole epoch (equal on every member at the same epoch of the same branch). */
  get epochAuthenticator(): Uint8Array {
    return this.state.keySchedule.epochAuthenticator
  }

  metadata(): GroupMetadata {
    return metadataFrom(this.state.groupContext.extensions)
  }

  members(): GroupMember[] {
    return leafMembers(this.state.ratchetTree)
  }

  member(identityKey: Uint8Array): GroupMember | undefined {
    return this.members().find((m) => equalBytes(m.identityKey, identityKey))
  }

  isAdmin(identityKey: Uint8Array): boolean {
    return this.metadata().admins.some((a) => equalBytes(a, identityKey))
  }

  /** The secret the group's gossipsub topic is named from (MLS exporter, EXPORTER_GROUP_TOPIC). */
  topicSecret(): Promise<Uint8Array> {
    return mlsExporter(
      this.state.keySchedule.exporterSecret,
      EXPORTER_GROUP_TOPIC,
      this.groupId,
      GROUP_TOPIC_SECRET_BYTES,
      this.cs
    )
  }

  /** The ratchet tree, encoded (sent with a Welcome). */
  ratchetTree(): Uint8Array {
    return encodeRatchetTree(this.state.ratchetTree)
  }

  /** Encrypts an application message for the group at the current epoch. */
  async encrypt(plaintext: Uint8Array): Promise<{ group: MlsGroup; message: Uint8Array }> {
    if (plaintext.length > MAX_GROUP_PLAINTEXT_BYTES)
      throw new GroupLimitError('plaintext bytes', MAX_GROUP_PLAINTEXT_BYTES)
    const r = await createApplicationMessage(this.state, plaintext, this.cs)
    const message = encodeMlsMessage({
      version: 'mls10',
      wireformat: 'mls_private_message',
      privateMessage: r.privateMessage
    })
    return { group: this.next(r.newState), message }
  }

  /**
   * Commits `change` (admins only; GroupNotAuthorisedError otherwise) — or, with no change, a self-update that
   * replaces our leaf's encryption key and the path above it (post-compromise security).
   */
  async commit(change: GroupChange = {}, now = Date.now()): Promise<GroupCommitted> {
    const proposals = await changeProposals(this.backend, this, change, now)
    const r = await createCommit({ state: this.state, cipherSuite: this.cs }, { extraProposals: proposals })
    const welcome =
      r.welcome === undefined
        ? undefined
        : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: r.welcome })
    const group = this.next(r.newState)
    return { group, commit: encodeMlsMessage(r.commit), welcome, ratchetTree: group.ratchetTree() }
  }

  /**
   * Processes an incoming MLS message against this state: an application message (sender from the tree) or a
   * commit (checked against the admin rule). Throws GroupWrongEpochError for an epoch this state cannot take,
   * GroupNotAuthorisedError for a commit its committer may not make, GroupInvalidMessageError otherwise.
   */
  async process(bytes: Uint8Array): Promise<GroupProcessed> {
    const m = decodeMessage(bytes)
    if (m.wireformat !== 'mls_private_message')
      throw new GroupInvalidMessageError('group messages are private messages')
    const pm = m.privateMessage
    if (!equalBytes(pm.groupId, this.groupId)) throw new GroupInvalidMessageError('another group')
    if (pm.contentType === 'application') return this.processApplication(pm)
    if (pm.contentType !== 'commit') throw new GroupInvalidMessageError('standalone proposals are not used')
    if (pm.epoch !== this.epoch) throw new GroupWrongEpochError(pm.epoch, this.epoch)
    const review = new CommitReview(this.state.ratchetTree, this.metadata())
    let result: Awaited<ReturnType<typeof processMessage>>
    try {
      result = await processMessage(m, this.state, makePskIndex(this.state, {}), review.callback, this.cs)
    } catch (e) {
      throw new GroupInvalidMessageError(`commit rejected (${(e as Error).name})`)
    }
    const verdict = review.verdict
    if (result.kind !== 'newState' || result.actionTaken !== 'accept' || verdict === undefined) {
      throw new GroupNotAuthorisedError(review.refusal ?? 'commit refused')
    }
    const group = this.next(result.newState)
    const after = group.members().length
    if (after > MAX_GROUP_MEMBERS) throw new GroupLimitError('members', MAX_GROUP_MEMBERS)
    group.metadata()
    return { kind: 'commit', group, epoch: pm.epoch, ...verdict }
  }

  private async processApplication(pm: PrivateMessage): Promise<GroupProcessed & { kind: 'application' }> {
    const r = await openApplication(this.state, this.cs, pm)
    return { kind: 'application', group: this.next(r.state), sender: r.sender, epoch: pm.epoch, plaintext: r.plaintext }
  }

  private next(state: ClientState): MlsGroup {
    return new MlsGroup(this.backend, this.cs, state)
  }
}
