/**
 * One member's view of an MLS group (RFC 9420, via ts-mls) with Parley's rules on top: every leaf carries a verified
 * member credential (credential.ts), the group context carries the name and admins (metadata.ts), and only an admin's
 * commit may add, remove, rename or change admins. An `MlsGroup` is immutable: every operation returns the next one,
 * so a caller keeps older states (the messenger keeps a few epochs to resolve competing commits) and commits a new
 * state only after the message verified.
 */
import {
  type CiphersuiteImpl,
  type ClientState,
  type Credential,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  encodeGroupState,
  encodeMlsMessage,
  type IncomingMessageCallback,
  joinGroup,
  type KeyPackage,
  makePskIndex,
  mlsExporter,
  type Proposal,
  processMessage,
  type RatchetTree,
  type Welcome
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js'
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js'
import type { CryptoBackend } from '../backend/types.ts'
import { equalBytes } from '../codec.ts'
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
  MAX_GROUP_STATE_BYTES,
  MAX_MLS_MESSAGE_BYTES
} from './constants.ts'
import { type MemberCredential, memberAuthenticationService, parseMemberCredential } from './credential.ts'
import {
  GroupInvalidMessageError,
  GroupLimitError,
  GroupNotAuthorisedError,
  GroupNotMemberError,
  GroupWrongEpochError
} from './errors.ts'
import { type KeyPackageSecret, verifyKeyPackage } from './key-package.ts'
import { type GroupMetadata, metadataExtension, metadataFrom } from './metadata.ts'
import { groupSuite } from './suite.ts'

/** A member as the current tree shows it. */
export interface GroupMember extends MemberCredential {
  readonly leafIndex: number
}

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

/** The MLS epoch a message is for, without processing it; GroupInvalidMessageError when it is not one of ours. */
export function mlsMessageEpoch(bytes: Uint8Array): {
  groupId: Uint8Array
  epoch: bigint
  kind: 'application' | 'commit' | 'proposal'
} {
  const m = decodeMessage(bytes)
  if (m.wireformat === 'mls_private_message') {
    const pm = m.privateMessage
    return { groupId: pm.groupId, epoch: pm.epoch, kind: pm.contentType }
  }
  if (m.wireformat === 'mls_public_message') {
    const c = m.publicMessage.content
    return { groupId: c.groupId, epoch: c.epoch, kind: c.contentType }
  }
  throw new GroupInvalidMessageError('not a group message')
}

function decodeMessage(bytes: Uint8Array) {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_MLS_MESSAGE_BYTES) {
    throw new GroupInvalidMessageError('size')
  }
  let decoded: ReturnType<typeof decodeMlsMessage>
  try {
    decoded = decodeMlsMessage(bytes, 0)
  } catch {
    throw new GroupInvalidMessageError('does not decode')
  }
  if (decoded === undefined || decoded[1] !== bytes.length) throw new GroupInvalidMessageError('does not decode')
  return decoded[0]
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

function leafMembers(tree: RatchetTree): GroupMember[] {
  const out: GroupMember[] = []
  for (let i = 0; i < tree.length; i += 2) {
    const node = tree[i]
    if (node?.nodeType !== 'leaf') continue
    const c = parseMemberCredential(node.leaf.credential)
    out.push({ leafIndex: i / 2, identityKey: c.identityKey, certificate: c.certificate })
  }
  return out
}

function memberAt(tree: RatchetTree, leafIndex: number | undefined): GroupMember {
  const node = leafIndex === undefined ? undefined : tree[leafIndex * 2]
  if (leafIndex === undefined || node?.nodeType !== 'leaf') throw new GroupNotMemberError('sender leaf')
  const c = parseMemberCredential(node.leaf.credential as Credential)
  return { leafIndex, identityKey: c.identityKey, certificate: c.certificate }
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
    const me = memberAt(this.state.ratchetTree, this.ownLeafIndex)
    const privileged =
      (change.add?.length ?? 0) + (change.remove?.length ?? 0) > 0 ||
      change.name !== undefined ||
      change.admins !== undefined
    if (privileged && !this.isAdmin(me.identityKey)) throw new GroupNotAuthorisedError('only admins change the group')
    const proposals: Proposal[] = []
    const members = this.members()
    let count = members.length
    for (const kp of change.add ?? []) {
      const { keyPackage } = await verifyKeyPackage(this.backend, kp, now)
      proposals.push({ proposalType: 'add', add: { keyPackage: keyPackage as KeyPackage } })
      count++
    }
    for (const id of change.remove ?? []) {
      const m = members.find((x) => equalBytes(x.identityKey, id))
      if (m === undefined) throw new GroupNotMemberError('remove target')
      if (m.leafIndex === this.ownLeafIndex)
        throw new GroupNotAuthorisedError('a member leaves, it does not remove itself')
      proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } })
      count--
    }
    if (count > MAX_GROUP_MEMBERS) throw new GroupLimitError('members', MAX_GROUP_MEMBERS)
    if (change.name !== undefined || change.admins !== undefined) {
      const old = this.metadata()
      const ext = metadataExtension({ name: change.name ?? old.name, admins: change.admins ?? old.admins })
      const others = this.state.groupContext.extensions.filter((e) => e.extensionType !== ext.extensionType)
      proposals.push({
        proposalType: 'group_context_extensions',
        groupContextExtensions: { extensions: [...others, ext] }
      })
    }
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
    const before = this.state.ratchetTree
    const meta = this.metadata()
    let verdict: { committer: GroupMember; added: MemberCredential[]; removed: MemberCredential[] } | undefined
    let refusal: string | undefined
    const callback: IncomingMessageCallback = (incoming) => {
      if (incoming.kind !== 'commit') return 'reject'
      try {
        const committer = memberAt(before, incoming.senderLeafIndex)
        const isAdmin = meta.admins.some((a) => equalBytes(a, committer.identityKey))
        const added: MemberCredential[] = []
        const removed: MemberCredential[] = []
        for (const { proposal } of incoming.proposals) {
          if (proposal.proposalType === 'add')
            added.push(parseMemberCredential(proposal.add.keyPackage.leafNode.credential))
          else if (proposal.proposalType === 'remove') removed.push(memberAt(before, proposal.remove.removed))
          else if (proposal.proposalType !== 'group_context_extensions') {
            refusal = `proposal ${proposal.proposalType}`
            return 'reject'
          }
        }
        const privileged = incoming.proposals.length > 0
        if (privileged && !isAdmin) {
          refusal = 'committer is not an admin'
          return 'reject'
        }
        verdict = { committer, added, removed }
        return 'accept'
      } catch (e) {
        refusal = (e as Error).name
        return 'reject'
      }
    }
    let result: Awaited<ReturnType<typeof processMessage>>
    try {
      result = await processMessage(m, this.state, makePskIndex(this.state, {}), callback, this.cs)
    } catch (e) {
      throw new GroupInvalidMessageError(`commit rejected (${(e as Error).name})`)
    }
    if (result.kind !== 'newState' || result.actionTaken !== 'accept' || verdict === undefined) {
      throw new GroupNotAuthorisedError(refusal ?? 'commit refused')
    }
    const group = this.next(result.newState)
    const after = group.members().length
    if (after > MAX_GROUP_MEMBERS) throw new GroupLimitError('members', MAX_GROUP_MEMBERS)
    group.metadata()
    return { kind: 'commit', group, epoch: pm.epoch, ...verdict }
  }

  private async processApplication(
    pm: Parameters<typeof unprotectPrivateMessage>[1]
  ): Promise<GroupProcessed & { kind: 'application' }> {
    const current = pm.epoch === this.epoch
    const data = current
      ? {
          senderDataSecret: this.state.keySchedule.senderDataSecret,
          secretTree: this.state.secretTree,
          ratchetTree: this.state.ratchetTree,
          groupContext: this.state.groupContext
        }
      : this.state.historicalReceiverData.get(pm.epoch)
    if (data === undefined) throw new GroupWrongEpochError(pm.epoch, this.epoch)
    let r: Awaited<ReturnType<typeof unprotectPrivateMessage>>
    try {
      r = await unprotectPrivateMessage(
        data.senderDataSecret,
        pm,
        data.secretTree,
        data.ratchetTree,
        data.groupContext,
        this.state.clientConfig.keyRetentionConfig,
        this.cs
      )
    } catch (e) {
      throw new GroupInvalidMessageError(`does not decrypt (${(e as Error).name})`)
    }
    const content = r.content.content
    if (content.contentType !== 'application' || content.sender.senderType !== 'member') {
      throw new GroupInvalidMessageError('not an application message from a member')
    }
    const sender = memberAt(data.ratchetTree, content.sender.leafIndex)
    const state: ClientState = current
      ? { ...this.state, secretTree: r.tree }
      : {
          ...this.state,
          historicalReceiverData: new Map(this.state.historicalReceiverData).set(pm.epoch, {
            ...(data as NonNullable<ReturnType<typeof this.state.historicalReceiverData.get>>),
            secretTree: r.tree
          })
        }
    return { kind: 'application', group: this.next(state), sender, epoch: pm.epoch, plaintext: content.applicationData }
  }

  private next(state: ClientState): MlsGroup {
    return new MlsGroup(this.backend, this.cs, state)
  }
}
