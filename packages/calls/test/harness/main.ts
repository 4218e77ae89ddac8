/**
 * The test page of the calls' browser tests: one CallController whose signals go through the test process
 * (`window.parleySend`, exposed by Playwright; received ones come back through `harness.receive`), remote media in
 * <video> elements, and read-outs for the test: call states, refusals, getStats quality, SFrame counters.
 */
import { decodeCallSignal } from '@parley/wire'
import { CallController, type CallQuality, type CallSnapshot, type FrameCounters } from '../../src/browser/index.ts'

declare global {
  interface Window {
    parleySend(to: string, b64: string): Promise<boolean>
    /** The baseline's signals (bare RTCPeerConnection), routed by the bench over a plain libp2p stream. */
    bareSend(to: string, json: string): Promise<boolean>
    harness: typeof harness
    bare: typeof bare
  }
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b))
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

let controller: CallController | undefined
let handler: ((contact: string, signal: Uint8Array) => void) | undefined
const states = new Map<string, CallSnapshot>()
const history: CallSnapshot[] = []
/** performance.now() of every state change, per call (for the bench's break-down). */
const stamps = new Map<string, Array<[string, number]>>()
const incoming: string[] = []
const refused: Array<{ callId: string; reason: string }> = []
const videos = new Map<string, HTMLVideoElement>()
const trace: Array<[string, number]> = []

const harness = {
  start(options: {
    self: string
    iceServers?: RTCIceServer[]
    iceTransportPolicy?: RTCIceTransportPolicy
    noAnswerMs?: number
    tamperFingerprint?: boolean
    /** Answer every incoming call at once (the bench's callee). */
    autoAccept?: boolean
    /** Receive with wrong SFrame keys (one bit of every receive base key flipped). */
    wrongKeys?: boolean
  }): void {
    controller = new CallController({
      self: options.self,
      transport: {
        send: (to, bytes) => {
          trace.push([`send ${decodeCallSignal(bytes).type}`, performance.now()])
          return window.parleySend(to, b64(bytes))
        },
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
      ...(options.wrongKeys && {
        tamperKeys: (k) => ({
          send: k.send,
          receive: k.receive.map((r) => ({ kid: r.kid, baseKey: r.baseKey.map((b, i) => (i === 0 ? b ^ 1 : b)) }))
        })
      }),
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
      stamps.set(s.id, [...(stamps.get(s.id) ?? []), [`${s.phase}${s.ringing ? '+ringing' : ''}`, performance.now()]])
      if (s.phase === 'ended') {
        const v = videos.get(s.id)
        if (v !== undefined) v.srcObject = null
      }
    }
    controller.addEventListener('call', track)
    controller.addEventListener('state', track)
    controller.addEventListener('local', () => trace.push(['camera open', performance.now()]))
    controller.addEventListener('state', (e) => {
      const d = (e as CustomEvent<CallSnapshot>).detail
      if (d.phase === 'active') trace.push(['active', performance.now()])
    })
    controller.addEventListener('incoming', (e) => {
      const id = (e as CustomEvent<CallSnapshot>).detail.id
      incoming.push(id)
      if (options.autoAccept) queueMicrotask(() => controller!.accept(id))
    })
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
    const bytes = unb64(signal)
    trace.push([`recv ${decodeCallSignal(bytes).type}`, performance.now()])
    handler?.(from, bytes)
  },
  /** Signals sent and received with their times (performance.now, this page), cleared on read. */
  trace(): Array<[string, number]> {
    return trace.splice(0)
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
  restart(id: string): void {
    controller!.restart(id)
  },
  setVideo(video: boolean): Promise<void> {
    return controller!.setVideo(video)
  },
  setMuted(muted: boolean): void {
    controller!.setMuted(muted)
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
  /** Presses call and waits for the first remote video frame: the setup time in ms. */
  async timedCall(to: string): Promise<{ id: string; ms: number; steps: Array<[string, number]> }> {
    const t0 = performance.now()
    trace.push(['press', t0])
    const id = controller!.call(to, { video: true }).id
    const t1 = await harness.firstFrame(id)
    trace.push(['first frame', t1])
    const steps = (stamps.get(id) ?? []).map(([p, t]) => [p, Math.round(t - t0)] as [string, number])
    return { id, ms: t1 - t0, steps }
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

/**
 * The benchmark's baseline: a bare RTCPeerConnection (no engine, no SFrame, no E2EE signals), the same camera and
 * microphone, signalling as JSON over whatever the bench routes `bareSend` through (a plain libp2p stream).
 */
let barePc: RTCPeerConnection | undefined
let bareLocal: MediaStream | undefined
let bareQueue: RTCIceCandidateInit[] = []
/** When the last baseline call's connection came up (ms after pressing call). */
let bareConnectedAt = 0
const bare = {
  async pc(to: string): Promise<RTCPeerConnection> {
    bareLocal = await navigator.mediaDevices.getUserMedia({ audio: true, video: true })
    const pc = new RTCPeerConnection({ iceServers: [] })
    for (const t of bareLocal.getTracks()) pc.addTrack(t, bareLocal)
    pc.onicecandidate = (e) => {
      if (e.candidate) void window.bareSend(to, JSON.stringify({ candidate: e.candidate.toJSON() }))
    }
    barePc = pc
    bareQueue = []
    return pc
  },
  /** Presses call and waits for the first remote video frame: the setup time in ms. */
  async call(to: string): Promise<number> {
    const t0 = performance.now()
    const pc = await bare.pc(to)
    const first = new Promise<number>((resolve) => {
      // Rendered as the harness renders a call: one element with the remote audio and video (A/V sync included).
      const remote = new MediaStream()
      pc.ontrack = (e) => {
        remote.addTrack(e.track)
        if (e.track.kind !== 'video') return
        const v = document.createElement('video')
        v.muted = true
        v.autoplay = true
        v.srcObject = remote
        document.body.append(v)
        v.requestVideoFrameCallback((now) => resolve(now))
        void v.play().catch(() => {})
      }
    })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') bareConnectedAt = performance.now() - t0
    })
    const offer = await pc.createOffer()
    await pc.setLocalDescription(offer)
    await window.bareSend(to, JSON.stringify({ sdp: pc.localDescription }))
    return (await first) - t0
  },
  async receive(from: string, json: string): Promise<void> {
    const m = JSON.parse(json) as { sdp?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit }
    if (m.sdp?.type === 'offer') {
      const pc = await bare.pc(from)
      await pc.setRemoteDescription(m.sdp)
      await pc.setLocalDescription(await pc.createAnswer())
      await window.bareSend(from, JSON.stringify({ sdp: pc.localDescription }))
      for (const c of bareQueue.splice(0)) await pc.addIceCandidate(c)
    } else if (m.sdp?.type === 'answer') {
      await barePc!.setRemoteDescription(m.sdp)
      for (const c of bareQueue.splice(0)) await barePc!.addIceCandidate(c)
    } else if (m.candidate) {
      if (barePc?.remoteDescription) await barePc.addIceCandidate(m.candidate)
      else bareQueue.push(m.candidate)
    }
  },
  connectedAt(): number {
    return bareConnectedAt
  },
  hangup(): void {
    barePc?.close()
    barePc = undefined
    for (const t of bareLocal?.getTracks() ?? []) t.stop()
    for (const v of document.querySelectorAll('body > video')) v.remove()
  }
}
window.bare = bare
