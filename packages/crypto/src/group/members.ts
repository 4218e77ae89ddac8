/**
 * The members of an MLS group as a ratchet tree shows them: each leaf's Parley member credential (verified when the
 * leaf entered, by the authentication service in credential.ts), with its leaf index.
 */
import type { Credential, RatchetTree } from 'ts-mls'
import { type MemberCredential, parseMemberCredential } from './credential.ts'
import { GroupNotMemberError } from './errors.ts'

/** A member as the current tree shows it. */
export interface GroupMember extends MemberCredential {
  readonly leafIndex: number
}

/** Every member of `tree`, in leaf order. */
export function leafMembers(tree: RatchetTree): GroupMember[] {
  const out: GroupMember[] = []
  for (let i = 0; i < tree.length; i += 2) {
    const node = tree[i]
    if (node?.nodeType !== 'leaf') continue
    const c = parseMemberCredential(node.leaf.credential)
    out.push({ leafIndex: i / 2, identityKey: c.identityKey, certificate: c.certificate })
  }
  return out
}

/** The member at `leafIndex` of `tree`; GroupNotMemberError when that leaf is empty or absent. */
export function memberAt(tree: RatchetTree, leafIndex: number | undefined): GroupMember {
  const node = leafIndex === undefined ? undefined : tree[leafIndex * 2]
  if (leafIndex === undefined || node?.nodeType !== 'leaf') throw new GroupNotMemberError('sender leaf')
  const c = parseMemberCredential(node.leaf.credential as Credential)
  return { leafIndex, identityKey: c.identityKey, certificate: c.certificate }
}
