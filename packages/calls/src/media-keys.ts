/**
 * Media key epochs of a running call: the protocol around the key schedule (keys.ts). The caller starts a new epoch
 * with a fresh secret every REKEY_INTERVAL_MS, receiving with it at once and sending with it once the callee
 * acknowledges; the callee takes the next epoch, sends with it and acknowledges. The engine asks when one is due.
 */
import { CALL_MEDIA_SECRET_BYTES, type CallSignal } from '@parley/wire'
import { REKEY_INTERVAL_MS } from './constants.ts'
import type { CallHost } from './lifecycle.ts'
import type { CallRecord } from './record.ts'
import { sendSignal } from './signals.ts'

/** Only the caller of an active, keyed call with no re-key in flight starts an epoch. */
function mayRekey(rec: CallRecord): boolean {
  return rec.role === 'caller' && rec.state.phase === 'active' && rec.keys.started && rec.rekeyPending === undefined
}

/** Caller: starts the next media key epoch, when the call may re-key now (otherwise nothing happens). */
export function startRekey(host: CallHost, rec: CallRecord): void {
  if (!mayRekey(rec)) return
  const epoch = rec.keys.epoch + 1
  const secret = host.randomBytes(CALL_MEDIA_SECRET_BYTES)
  rec.keys.rekey(epoch, secret)
  rec.rekeyPending = epoch
  rec.epochStartedAt = host.now()
  // We receive with the new epoch at once; we send with it once the callee says it has it.
  rec.media?.setKeys(rec.keys.keys())
  void sendSignal(host, rec, { type: 'rekey', keyId: epoch, mediaSecret: secret })
}

/** Callee: the caller's next epoch; false when it is not the one we expect. */
export function receiveRekey(host: CallHost, rec: CallRecord, sig: CallSignal): boolean {
  if (rec.role !== 'callee' || !rec.keys.started || sig.keyId !== rec.keys.epoch + 1) return false
  rec.keys.rekey(sig.keyId, sig.mediaSecret!)
  rec.keys.sendWith(sig.keyId)
  rec.media?.setKeys(rec.keys.keys())
  void sendSignal(host, rec, { type: 'rekey-ack', keyId: sig.keyId })
  host.changed(rec)
  return true
}

/** Caller: the callee has the pending epoch, so we send with it; false when no such epoch is pending. */
export function receiveRekeyAck(host: CallHost, rec: CallRecord, sig: CallSignal): boolean {
  if (rec.rekeyPending !== sig.keyId) return false
  rec.keys.sendWith(sig.keyId!)
  rec.rekeyPending = undefined
  rec.media?.setKeys(rec.keys.keys())
  host.changed(rec)
  return true
}

/** When the caller rotates the media keys of a running call next (REKEY_INTERVAL_MS after the last epoch began). */
export function rekeyDue(rec: CallRecord, now: () => number): number | undefined {
  if (!mayRekey(rec)) return undefined
  return (rec.epochStartedAt ?? rec.state.connectedAt ?? now()) + REKEY_INTERVAL_MS
}
