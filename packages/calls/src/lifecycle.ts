/**
 * One call's life once the engine has admitted it: its record, the vetted signals of a running call fed to its state
 * machine (descriptions checked against the fingerprints they bind, ICE candidates held until the remote description
 * is set, hang-ups, re-keys), and the machine's commands run against the call's media in order — creating and
 * applying descriptions, keying media at the start, and sending our descriptions and the candidates gathered meanwhile.
 */
import { CALL_MEDIA_SECRET_BYTES, type CallSignal, type CallSignalInit } from '@parley/wire'
import { MAX_PENDING_CANDIDATES } from './constants.ts'
import type { CallDescription, CallMedia } from './engine.ts'
import { CallKeySchedule } from './keys.ts'
import { type CallCommand, type CallInput, type CallRole, initialState } from './machine.ts'
import { receiveRekey, receiveRekeyAck } from './media-keys.ts'
import { type CallRecord, type CallSnapshot, fromHex, snapshot, toHex } from './record.ts'
import { checkSignalledDescription } from './sdp.ts'
import { candidateOf, type SignalSender, sendSignal } from './signals.ts'

/** What a call's life needs from the engine that runs it. */
export interface CallHost {
  readonly now: () => number
  readonly randomBytes: (n: number) => Uint8Array
  readonly send: SignalSender
  /** Makes the media of one call. */
  readonly media: (call: CallSnapshot) => CallMedia | Promise<CallMedia>
  /** One input to the call's machine; false when it does not fit (a local one throws). */
  input(rec: CallRecord, input: CallInput, local?: boolean): boolean
  /** Runs `fn` after the call's earlier media steps; a failure fails the call. */
  chain(rec: CallRecord, fn: () => Promise<void> | void): void
  /** The call changed outside its machine (a re-key): the engine emits it. */
  changed(rec: CallRecord): void
}

/** A new call's record (`self`, `contact`: identity keys in hex), in its machine's initial state. */
export function newRecord(
  id: Uint8Array,
  self: string,
  contact: string,
  role: CallRole,
  video: boolean,
  group: { id: string; members: string[] } | undefined,
  now: number
): CallRecord {
  const me = fromHex(self)
  const peer = fromHex(contact)
  return {
    id,
    idHex: toHex(id),
    contact,
    role,
    video,
    ...(group && { group }),
    state: initialState(role, now),
    sendSeq: 0,
    recvSeq: 0,
    keys: new CallKeySchedule(id, role === 'caller' ? me : peer, role === 'caller' ? peer : me, role === 'caller'),
    remoteSet: false,
    localSent: false,
    remoteCandidates: [],
    localCandidates: [],
    chain: Promise.resolve()
  }
}

/** Feeds a vetted signal of a running call to it; false when it does not fit (refused as `unexpected`). */
export function applySignal(host: CallHost, rec: CallRecord, sig: CallSignal): boolean {
  switch (sig.type) {
    case 'offer':
    case 'answer': {
      if (sig.restart !== true && sig.type === 'offer') return false
      try {
        rec.remoteFingerprints = checkSignalledDescription(sig.sdp!, sig.fingerprints!, rec.remoteFingerprints)
      } catch {
        host.input(rec, { type: 'security' })
        return true
      }
      rec.remoteDescription = sig.sdp!
      if (sig.type === 'answer' && sig.restart !== true) rec.remoteSecret = sig.mediaSecret!
      const signal = sig.type === 'offer' ? 'restart-offer' : sig.restart === true ? 'restart-answer' : 'answer'
      return host.input(rec, { type: 'remote', signal })
    }
    case 'ice': {
      const c = candidateOf(sig)
      if (!rec.remoteSet || rec.media === undefined) {
        if (rec.remoteCandidates.length >= MAX_PENDING_CANDIDATES) return false
        rec.remoteCandidates.push(c)
      } else {
        host.chain(rec, () => rec.media!.addCandidate(c))
      }
      return true
    }
    case 'hangup':
      return host.input(rec, { type: 'remote', signal: 'hangup', reason: sig.reason! })
    case 'ringing':
    case 'decline':
    case 'busy':
      return host.input(rec, { type: 'remote', signal: sig.type })
    case 'rekey':
      return receiveRekey(host, rec, sig)
    case 'rekey-ack':
      return receiveRekeyAck(host, rec, sig)
  }
}

/** Runs one command of the call's machine against its media (made on first use). */
export async function runCommand(host: CallHost, rec: CallRecord, cmd: CallCommand): Promise<void> {
  const media = async () => {
    rec.media ??= await host.media(snapshot(rec))
    return rec.media
  }
  switch (cmd.type) {
    case 'send-offer': {
      const m = await media()
      rec.localSecret = host.randomBytes(CALL_MEDIA_SECRET_BYTES)
      const d = await m.createOffer({ restart: false })
      const delivered = sendDescription(host, rec, 'offer', d, {
        mediaSecret: rec.localSecret,
        video: rec.video,
        ...(rec.group && { groupId: fromHex(rec.group.id), members: rec.group.members.map(fromHex) })
      })
      // Not awaited: the next steps need not wait for the callee's Ack (the transport keeps signals in order).
      void delivered.then((ok) => {
        if (!ok && rec.state.phase === 'outgoing') host.input(rec, { type: 'fail' })
      })
      return
    }
    case 'send-answer': {
      const m = await media()
      rec.localSecret = host.randomBytes(CALL_MEDIA_SECRET_BYTES)
      rec.keys.start(rec.remoteSecret!, rec.localSecret)
      m.setKeys(rec.keys.keys())
      const d = await m.answer(rec.remoteOffer!, { restart: false })
      await remoteSet(rec)
      void sendDescription(host, rec, 'answer', d, { mediaSecret: rec.localSecret })
      return
    }
    case 'apply-answer': {
      const m = await media()
      rec.keys.start(rec.localSecret!, rec.remoteSecret!)
      m.setKeys(rec.keys.keys())
      await m.applyAnswer(rec.remoteDescription!)
      await remoteSet(rec)
      return
    }
    case 'send-restart-offer': {
      rec.localSent = false
      const d = await (await media()).createOffer({ restart: true })
      void sendDescription(host, rec, 'offer', d, { restart: true })
      return
    }
    case 'answer-restart': {
      rec.localSent = false
      const d = await (await media()).answer(rec.remoteDescription!, { restart: true })
      void sendDescription(host, rec, 'answer', d, { restart: true })
      return
    }
    case 'apply-restart-answer':
      await (await media()).applyAnswer(rec.remoteDescription!)
      return
    case 'send':
      void sendSignal(
        host,
        rec,
        cmd.signal === 'hangup' ? { type: 'hangup', reason: cmd.reason } : { type: cmd.signal }
      )
      return
    case 'close':
      rec.media?.close()
      return
  }
}

/** The remote description is set: candidates that arrived before it go in now. */
async function remoteSet(rec: CallRecord): Promise<void> {
  rec.remoteSet = true
  for (const c of rec.remoteCandidates.splice(0)) await rec.media!.addCandidate(c)
}

function sendDescription(
  host: CallHost,
  rec: CallRecord,
  type: 'offer' | 'answer',
  d: CallDescription,
  extra: Partial<CallSignalInit>
): Promise<boolean> {
  rec.localFingerprints = d.fingerprints
  const sent = sendSignal(host, rec, { type, sdp: d.sdp, fingerprints: d.fingerprints, ...extra })
  // Candidates gathered while the description was made go after it.
  rec.localSent = true
  for (const c of rec.localCandidates.splice(0)) void sendSignal(host, rec, { type: 'ice', ...c })
  return sent
}
