/**
 * The SFrame worker behind every RTCRtpScriptTransform of the calls of one page: it encrypts each encoded frame we
 * send and decrypts each one we receive, per call, with the keys the page posts (derived from the E2EE session; see
 * keys.ts). Video keeps the codec's first bytes in the clear (VP8: 10 bytes of a key frame, 3 of a delta frame, as
 * the depacketizer reads them) and authenticates them as SFrame metadata; audio is encrypted whole. A frame that does
 * not open is dropped, never passed on. Counters go back to the page twice a second.
 *
 * Messages from the page: `{ type: 'keys', callId, send: { kid, baseKey }, receive: [{ kid, baseKey }] }` and
 * `{ type: 'forget', callId }`. To the page: `{ type: 'counters', callId, encrypted, decrypted, failed, failures, bytesOut }`.
 */
import { MAX_RECEIVE_KEY_EPOCHS } from '../constants.ts'
import { importSframeKey, SframeReceiver, SframeSender } from '../sframe.ts'

interface EncodedFrame {
  data: ArrayBuffer
  type?: 'key' | 'delta' | 'empty'
}
interface Transformer {
  readable: ReadableStream<EncodedFrame>
  writable: WritableStream<EncodedFrame>
  options: { side: 'send' | 'receive'; callId: string; kind: 'audio' | 'video' }
}
interface WorkerScope {
  onrtctransform: ((e: { transformer: Transformer }) => void) | null
  onmessage: ((e: MessageEvent) => void) | null
  postMessage(m: unknown): void
}

const scope = self as unknown as WorkerScope

interface CallCrypto {
  sender: SframeSender
  receiver: SframeReceiver
  encrypted: number
  decrypted: number
  failed: number
  /** Failures by error code (SframeDecrypt, SframeUnknownKey, SframeReplay, …). */
  failures: Record<string, number>
  bytesOut: number
  /** Applied in order: a re-key's keys land before frames that need them. */
  ready: Promise<void>
}

const calls = new Map<string, CallCrypto>()

function callCrypto(callId: string): CallCrypto {
  let c = calls.get(callId)
  if (c === undefined) {
    c = {
      sender: new SframeSender(),
      receiver: new SframeReceiver(MAX_RECEIVE_KEY_EPOCHS),
      encrypted: 0,
      decrypted: 0,
      failed: 0,
      failures: {},
      bytesOut: 0,
      ready: Promise.resolve()
    }
    calls.set(callId, c)
  }
  return c
}

/** Bytes left in the clear (and authenticated) at the start of a frame. */
function clearBytes(kind: 'audio' | 'video', frame: EncodedFrame): number {
  if (kind === 'audio') return 0
  return frame.type === 'key' ? 10 : 3
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as
    | {
        type: 'keys'
        callId: string
        send: { kid: bigint; baseKey: Uint8Array }
        receive: { kid: bigint; baseKey: Uint8Array }[]
      }
    | { type: 'forget'; callId: string }
  if (m.type === 'forget') {
    calls.delete(m.callId)
    return
  }
  const c = callCrypto(m.callId)
  c.ready = c.ready.then(async () => {
    // Oldest first, so the newest ends up first in the receiver's list.
    for (const k of [...m.receive].reverse()) c.receiver.addKey(await importSframeKey(k.baseKey, k.kid))
    c.sender.setKey(await importSframeKey(m.send.baseKey, m.send.kid))
  })
}

scope.onrtctransform = (e) => {
  const { readable, writable, options } = e.transformer
  const c = callCrypto(options.callId)
  const transform = new TransformStream<EncodedFrame, EncodedFrame>({
    async transform(frame, controller) {
      await c.ready
      const data = new Uint8Array(frame.data)
      if (data.length === 0) return controller.enqueue(frame)
      try {
        if (options.side === 'send') {
          if (c.sender.kid === undefined) return // no key yet: nothing leaves in the clear
          const n = Math.min(clearBytes(options.kind, frame), data.length)
          const head = data.subarray(0, n)
          const sealed = await c.sender.encrypt(data.subarray(n), head)
          const out = new Uint8Array(n + sealed.length)
          out.set(head)
          out.set(sealed, n)
          frame.data = out.buffer
          c.encrypted++
          c.bytesOut += out.length
        } else {
          const n = Math.min(clearBytes(options.kind, frame), data.length)
          const head = data.subarray(0, n)
          const opened = await c.receiver.decrypt(data.subarray(n), head)
          const out = new Uint8Array(n + opened.length)
          out.set(head)
          out.set(opened, n)
          frame.data = out.buffer
          c.decrypted++
        }
        controller.enqueue(frame)
      } catch (err) {
        c.failed++
        const code = (err as { code?: string }).code ?? 'Other'
        c.failures[code] = (c.failures[code] ?? 0) + 1
      }
    }
  })
  void readable.pipeThrough(transform).pipeTo(writable)
}

setInterval(() => {
  for (const [callId, c] of calls) {
    const { encrypted, decrypted, failed, failures, bytesOut } = c
    scope.postMessage({ type: 'counters', callId, encrypted, decrypted, failed, failures, bytesOut })
  }
}, 500)
