/**
 * Group control over the pairwise E2EE sessions: key package requests, key packages and Welcome parts travel to a
 * contact as `group-control` payloads on its session stream (encrypted by the Double Ratchet like any text), never
 * in the clear and never on a group topic. Like call signals they are not queued: an invite needs the contact online.
 */
import { deviceAddress, fromHex, ParleyCryptoError } from '@parley/crypto'
import { encodeGroupControl, encodePaddedPayload, type GroupControl } from '@parley/wire'
import { DEFAULT_DIAL_TIMEOUT } from '../constants.ts'
import type { Core } from '../core.ts'

/** Sends one group control message to a contact's current device; true once that device stored it. */
export async function sendGroupControl(
  core: Core,
  contact: string,
  control: GroupControl,
  options: { signal?: AbortSignal } = {}
): Promise<boolean> {
  if (!core.online) return false
  const c = await core.contacts.contact(contact)
  if (c.status !== 'ok') return false
  const signal = core.signal(DEFAULT_DIAL_TIMEOUT, options.signal)
  const target = await core.peers.resolve(c, { signal })
  let address = deviceAddress(fromHex(c.identity), target.deviceKey)
  if ((await core.manager.sessionInfo(address)) === undefined) address = await core.peers.startSession(c, signal)
  const id = core.backend.randomBytes(16)
  const payload = encodePaddedPayload({
    kind: 'group-control',
    senderSeq: 0,
    sentAt: core.now(),
    groupControl: encodeGroupControl(control)
  })
  const encrypt = () => core.manager.encrypt(address, payload, { messageId: id })
  const { ciphertext } = await core.locked(contact, async () => {
    try {
      return await encrypt()
    } catch (e) {
      if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
      await core.manager.archiveCurrentSession(address)
      address = await core.peers.startSession(c, signal)
      return encrypt()
    }
  })
  const ack = await core.outbox.streams.deliver(target.peerId, id, ciphertext, signal, () =>
    core.peers.dial(target.peerId, target.addresses, core.ids.session, signal)
  )
  return ack.status === 'ok'
}
