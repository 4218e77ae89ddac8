/**
 * MLS messages at the boundary: strict, size-bounded decoding (MAX_MLS_MESSAGE_BYTES; the whole input must decode),
 * and the group and epoch a message is for, read without processing it.
 */
import { decodeMlsMessage } from 'ts-mls'
import { MAX_MLS_MESSAGE_BYTES } from './constants.ts'
import { GroupInvalidMessageError } from './errors.ts'

/** Decodes one MLS message; GroupInvalidMessageError for a bad size, trailing bytes or anything that does not decode. */
export function decodeMessage(bytes: Uint8Array) {
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
