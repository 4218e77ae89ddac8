/**
 * Opening application messages: at the current epoch, or at an earlier one the state still retains
 * (GROUP_RETAINED_EPOCHS), with the sender read from that epoch's tree. The state that comes back has that epoch's
 * secret tree advanced (each message key is used once); the caller keeps it only once the message opened.
 */
import type { CiphersuiteImpl, ClientState } from 'ts-mls'
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js'
import { GroupInvalidMessageError, GroupWrongEpochError } from './errors.ts'
import { type GroupMember, memberAt } from './members.ts'

/** An MLS private message of application content, as ts-mls decodes it. */
export type PrivateMessage = Parameters<typeof unprotectPrivateMessage>[1]

/** Decrypts `pm` against `state`: the next state, the sending member and the plaintext. */
export async function openApplication(
  state: ClientState,
  cs: CiphersuiteImpl,
  pm: PrivateMessage
): Promise<{ state: ClientState; sender: GroupMember; plaintext: Uint8Array }> {
  const current = pm.epoch === state.groupContext.epoch
  const data = current
    ? {
        senderDataSecret: state.keySchedule.senderDataSecret,
        secretTree: state.secretTree,
        ratchetTree: state.ratchetTree,
        groupContext: state.groupContext
      }
    : state.historicalReceiverData.get(pm.epoch)
  if (data === undefined) throw new GroupWrongEpochError(pm.epoch, state.groupContext.epoch)
  let r: Awaited<ReturnType<typeof unprotectPrivateMessage>>
  try {
    r = await unprotectPrivateMessage(
      data.senderDataSecret,
      pm,
      data.secretTree,
      data.ratchetTree,
      data.groupContext,
      state.clientConfig.keyRetentionConfig,
      cs
    )
  } catch (e) {
    throw new GroupInvalidMessageError(`does not decrypt (${(e as Error).name})`)
  }
  const content = r.content.content
  if (content.contentType !== 'application' || content.sender.senderType !== 'member') {
    throw new GroupInvalidMessageError('not an application message from a member')
  }
  const sender = memberAt(data.ratchetTree, content.sender.leafIndex)
  const next: ClientState = current
    ? { ...state, secretTree: r.tree }
    : {
        ...state,
        historicalReceiverData: new Map(state.historicalReceiverData).set(pm.epoch, {
          ...(data as NonNullable<ReturnType<typeof state.historicalReceiverData.get>>),
          secretTree: r.tree
        })
      }
  return { state: next, sender, plaintext: content.applicationData }
}
