/**
 * Parley's rule over MLS changes, both ways: only an admin's commit may add, remove, rename or change admins, and a
 * group stays within MAX_GROUP_MEMBERS. Our own change becomes the proposals of one commit after these checks (each
 * added key package verified); an incoming commit is judged inside ts-mls's processing, against the tree and admins
 * of the epoch it leaves.
 */
import type { IncomingMessageCallback, KeyPackage, Proposal, RatchetTree } from 'ts-mls'
import type { CryptoBackend } from '../backend/types.ts'
import { equalBytes } from '../codec.ts'
import { MAX_GROUP_MEMBERS } from './constants.ts'
import { type MemberCredential, parseMemberCredential } from './credential.ts'
import { GroupLimitError, GroupNotAuthorisedError, GroupNotMemberError } from './errors.ts'
import type { GroupChange, MlsGroup } from './group.ts'
import { verifyKeyPackage } from './key-package.ts'
import { type GroupMember, memberAt } from './members.ts'
import { type GroupMetadata, metadataExtension } from './metadata.ts'

/**
 * The proposals that make `change` on `group` in one commit. GroupNotAuthorisedError unless we are an admin (for any
 * change but a self-update) and never for removing ourselves; GroupNotMemberError for a removal target not in the
 * group; GroupLimitError past MAX_GROUP_MEMBERS. Key packages are verified at `now`.
 */
export async function changeProposals(
  backend: CryptoBackend,
  group: MlsGroup,
  change: GroupChange,
  now: number
): Promise<Proposal[]> {
  const me = memberAt(group.state.ratchetTree, group.ownLeafIndex)
  const privileged =
    (change.add?.length ?? 0) + (change.remove?.length ?? 0) > 0 ||
    change.name !== undefined ||
    change.admins !== undefined
  if (privileged && !group.isAdmin(me.identityKey)) throw new GroupNotAuthorisedError('only admins change the group')
  const proposals: Proposal[] = []
  const members = group.members()
  let count = members.length
  for (const kp of change.add ?? []) {
    const { keyPackage } = await verifyKeyPackage(backend, kp, now)
    proposals.push({ proposalType: 'add', add: { keyPackage: keyPackage as KeyPackage } })
    count++
  }
  for (const id of change.remove ?? []) {
    const m = members.find((x) => equalBytes(x.identityKey, id))
    if (m === undefined) throw new GroupNotMemberError('remove target')
    if (m.leafIndex === group.ownLeafIndex)
      throw new GroupNotAuthorisedError('a member leaves, it does not remove itself')
    proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } })
    count--
  }
  if (count > MAX_GROUP_MEMBERS) throw new GroupLimitError('members', MAX_GROUP_MEMBERS)
  if (change.name !== undefined || change.admins !== undefined) {
    const old = group.metadata()
    const ext = metadataExtension({ name: change.name ?? old.name, admins: change.admins ?? old.admins })
    const others = group.state.groupContext.extensions.filter((e) => e.extensionType !== ext.extensionType)
    proposals.push({
      proposalType: 'group_context_extensions',
      groupContextExtensions: { extensions: [...others, ext] }
    })
  }
  return proposals
}

/** What an accepted incoming commit did, and who made it. */
export interface CommitVerdict {
  readonly committer: GroupMember
  readonly added: MemberCredential[]
  readonly removed: MemberCredential[]
}

/**
 * Judges one incoming commit: pass `callback` to ts-mls's processMessage; afterwards `verdict` is set when the commit
 * was accepted, and `refusal` says why it was not (a proposal type we do not use, a committer who is not an admin).
 */
export class CommitReview {
  verdict: CommitVerdict | undefined
  refusal: string | undefined
  readonly callback: IncomingMessageCallback

  /** `before`, `meta`: the tree and metadata of the epoch the commit leaves. */
  constructor(before: RatchetTree, meta: GroupMetadata) {
    this.callback = (incoming) => {
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
            this.refusal = `proposal ${proposal.proposalType}`
            return 'reject'
          }
        }
        const privileged = incoming.proposals.length > 0
        if (privileged && !isAdmin) {
          this.refusal = 'committer is not an admin'
          return 'reject'
        }
        this.verdict = { committer, added, removed }
        return 'accept'
      } catch (e) {
        this.refusal = (e as Error).name
        return 'reject'
      }
    }
  }
}
