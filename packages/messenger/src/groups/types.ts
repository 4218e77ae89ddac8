/** Types shared by the group engine, its transport and the messenger's group API. */
import type { MlsGroup } from '@parley/crypto'

/**
 * Why a group message was dropped. `reject` verdicts (a gossipsub penalty for the forwarding peer): Malformed,
 * NotMember, WrongGroup, NotAuthorised, UntrustedMember, SenderMismatch, RateLimited. `ignore` verdicts (no
 * penalty): Duplicate, StaleEpoch, LostFork.
 */
export type DropReason =
  | 'Malformed'
  | 'NotMember'
  | 'WrongGroup'
  | 'NotAuthorised'
  | 'UntrustedMember'
  | 'SenderMismatch'
  | 'RateLimited'
  | 'Duplicate'
  | 'StaleEpoch'
  | 'LostFork'

/** The engine's answer to one envelope, for gossipsub's topic validator. */
export type GroupVerdict =
  | { readonly action: 'accept'; readonly held?: true }
  | { readonly action: 'ignore' | 'reject'; readonly reason: DropReason }

/** A group text shown to the user (once, in per-sender order). */
export interface GroupTextEvent {
  readonly sender: string
  readonly id: string
  readonly senderSeq: number
  readonly sentAt: number
  readonly text: string
  readonly epoch: bigint
  /** Shown after a gap in this sender's sequence was skipped (GROUP_GAP_WAIT_MS). */
  readonly late: boolean
}

/** A commit applied (ours or another member's). */
export interface GroupMembershipEvent {
  readonly epoch: bigint
  readonly committer: string
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly group: MlsGroup
  readonly own: boolean
}

/** What an engine tells its owner. */
export interface GroupEngineEvents {
  message(e: GroupTextEvent): void
  membership?(e: GroupMembershipEvent): void
  /** A member asked to leave (an admin's manager commits the removal). */
  leave?(e: { member: string }): void
  /** We switched to the winning branch of `epoch` (`lostOurs`: a commit of ours lost and is re-proposed). */
  fork?(e: { epoch: bigint; lostBranchLength: number; lostOurs: boolean }): void
  /** A re-proposed add produced a new Welcome for the added members. */
  rewelcome?(e: { welcome: Uint8Array; ratchetTree: Uint8Array; change: import('@parley/crypto').GroupChange }): void
  drop?(e: { reason: DropReason; from: string | undefined }): void
  error?(e: Error): void
}

/** A group as `messenger.groups` shows it. */
export interface GroupInfo {
  readonly id: string
  readonly name: string
  readonly epoch: number
  readonly admins: readonly string[]
  readonly members: readonly { readonly identity: string; readonly admin: boolean }[]
}

/** One entry of a group's history: a text (ours or a member's) or a membership notice. */
export interface GroupHistoryEntry {
  readonly kind: 'text' | 'notice'
  readonly direction: 'in' | 'out'
  readonly id: string
  /** Identity key (hex) of the sender; empty for notices. */
  readonly sender: string
  readonly senderSeq: number
  readonly sentAt: number
  readonly text: string
  /** When we stored it (our clock). */
  readonly at: number
  readonly order: number
  readonly late?: true
}
