/**
 * The test page of the calls' browser tests: one CallController whose signals go through the test process
 * (`window.parleySend`, exposed by Playwright; received ones come back through `harness.receive`), remote media in
 * <video> elements, and read-outs for the test: call states, refusals, getStats quality, SFrame counters.
 */
import { CallController, type CallQuality, type CallSnapshot, type FrameCounters } from '../../src/browser/index.ts'

declare global {
  interface Window {
    parleySend(to: string, b64: string): Promise<boolean>
    harness: typeof harness
  }
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b))
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

let controller: CallController | undefined
let handler: ((contact: string, signal: Uint8Array) => void) | undefined
const states = new Map<string, CallSnapshot>()
const history: CallSnapshot[] = []
const incoming: string[] = []
const refused: Array<{ callId: string; reason: string }> = []
const videos = new Map<string, HTMLVideoElement>()

const harness = {
  start(options: {
    self: string
    iceServers?: RTCIceServer[]
    iceTransportPolicy?: RTCIceTransportPolicy
    noAnswerMs?: number
    tamperFingerprint?: boolean
  }): void {
    controller = new CallController({
      self: options.self,
      transport: {
        send: (to, bytes) => window.parleySend(to, b64(bytes)),
        subscribe: (h) => {
          handler = h
          return () => {
            handler = undefined
          }
        }
      },
      ...(options.iceServers && { iceServers: options.iceServers }),
      ...(options.iceTransportPolicy && { iceTransportPolicy: options.iceTransportPolicy }),
      ...(options.noAnswerMs !== undefined && { timings: { noAnswerMs: options.noAnswerMs } }),
      ...(options.tamperFingerprint && {
        // Claims another certificate than the one our DTLS uses (the first byte of every fingerprint changed).
        tamperSdp: (sdp: string) =>
          sdp.replace(/a=fingerprint:(\S+) ([0-9A-F]{2})/g, (_m, alg: string, first: string) => {
            const other = ((Number.parseInt(first, 16) + 1) & 0xff).toString(16).toUpperCase().padStart(2, '0')
            return `a=fingerprint:${alg} ${other}`
          })
      })
    })
    const track = (e: Event) => {
      const s = (e as CustomEvent<CallSnapshot>).detail
      states.set(s.id, s)
      history.push(s)
    }
    controller.addEventListener('call', track)
    controller.addEventListener('state', track)
    controller.addEventListener('incoming', (e) => incoming.push((e as CustomEvent<CallSnapshot>).detail.id))
    controller.addEventListener('refused', (e) => {
      const d = (e as CustomEvent<{ callId: string; reason: string }>).detail
      refused.push({ callId: d.callId, reason: d.reason })
    })
    controller.addEventListener('stream', (e) => {
      const { id, stream } = (e as CustomEvent<{ id: string; stream: MediaStream }>).detail
      let v = videos.get(id)
      if (v === undefined) {
        v = document.createElement('video')
        v.autoplay = true
        v.muted = true
        v.playsInline = true
        document.getElementById('videos')!.append(v)
        videos.set(id, v)
      }
      if (v.srcObject !== stream) v.srcObject = stream
      void v.play().catch(() => {})
    })
  },
  receive(from: string, signal: string): void {
    handler?.(from, unb64(signal))
  },
  call(to: string, video = true): string {
    return controller!.call(to, { video }).id
  },
  callGroup(to: string[]): string[] {
    return controller!.callGroup(to).map((c) => c.id)
  },
  accept(id: string): void {
    controller!.accept(id)
  },
  decline(id: string): void {
    controller!.decline(id)
  },
  hangup(id: string): void {
    controller!.hangup(id)
  },
  rekey(id: string): void {
    controller!.rekey(id)
  },
  state(id: string): CallSnapshot | undefined {
    return states.get(id)
  },
  states(): CallSnapshot[] {
    return [...states.values()]
  },
  history(id: string): string[] {
    return history.filter((s) => s.id === id).map((s) => s.phase)
  },
  incoming(): string[] {
    return [...incoming]
  },
  refused(): Array<{ callId: string; reason: string }> {
    return [...refused]
  },
  async quality(id: string): Promise<CallQuality | undefined> {
    return controller!.quality(id)
  },
  counters(id: string): FrameCounters | undefined {
    return controller!.frameCounters(id)
  },
  videoWidth(id: string): number {
    return videos.get(id)?.videoWidth ?? 0
  },
  /** First decoded remote video frame of a call (performance.now ms), via requestVideoFrameCallback. */
  firstFrame(id: string): Promise<number> {
    return new Promise((resolve) => {
      const wait = () => {
        const v = videos.get(id)
        if (v === undefined) return setTimeout(wait, 5)
        v.requestVideoFrameCallback((now) => resolve(now))
      }
      wait()
    })
  },
  close(): void {
    controller?.close()
  }
}

window.harness = harness
