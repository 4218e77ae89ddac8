/**
 * A test network for CallEngines in one process: a shared clock, an in-order signal channel per direction (with the
 * option to replay a delivered signal), and LoopMedia — CallMedia that makes SDP with a DTLS fingerprint of its own
 * and reports the transport connected once both ends of a call have their local and remote descriptions. Stands in for
 * RTCPeerConnection in Node; the browser binding is tested with real WebRTC in Chromium (*.netns.test.ts).
 */
import { CallEngine, type CallMedia, type CallSnapshot, type MediaKeys } from '../src/index.ts'

export interface Sent {
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const fingerprint = (b: Uint8Array) =>
  `sha-256 ${Array.from(b, (x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':')}`

export class LoopMedia implements CallMedia {
  readonly side: string
  readonly call: CallSnapshot
  readonly net: LoopNet
  fp: string
  local = 0
  remote = 0
  keys: MediaKeys | undefined
  closed = false
  candidates: string[] = []
  /** Tamper with our own descriptions (tests of fail-closed checks). */
  tamper: ((sdp: string) => string) | undefined

  constructor(net: LoopNet, side: string, call: CallSnapshot) {
    this.net = net
    this.side = side
    this.call = call
    this.fp = fingerprint(crypto.getRandomValues(new Uint8Array(32)))
  }

  #sdp(kind: string): { sdp: string; fingerprints: string[] } {
    const sdp = `v=0\r\no=- ${kind} ${this.local}\r\na=fingerprint:${this.fp}\r\n`
    return { sdp: this.tamper?.(sdp) ?? sdp, fingerprints: [this.fp] }
  }

  async createOffer(): Promise<{ sdp: string; fingerprints: string[] }> {
    this.local++
    const d = this.#sdp('offer')
    // A candidate gathered while the offer is made (the engine must send it after the offer).
    this.net
      .engine(this.side)
      .localCandidate(this.call.id, { candidate: `candidate:${this.side} 1 udp 1 10.0.0.1 1 typ host` })
    this.net.check(this.call.id)
    return d
  }

  async answer(): Promise<{ sdp: string; fingerprints: string[] }> {
    this.remote++
    this.local++
    const d = this.#sdp('answer')
    this.net.check(this.call.id)
    return d
  }

  async applyAnswer(): Promise<void> {
    this.remote++
    this.net.check(this.call.id)
  }

  async addCandidate(c: { candidate: string }): Promise<void> {
    if (this.remote === 0) throw new Error('candidate before the remote description')
    this.candidates.push(c.candidate)
  }

  setKeys(keys: MediaKeys): void {
    this.keys = keys
  }

  close(): void {
    this.closed = true
  }
}

export class LoopNet {
  now = 1_700_000_000_000
  readonly queue: Sent[] = []
  readonly delivered: Sent[] = []
  readonly engines = new Map<string, CallEngine>()
  readonly media = new Map<string, LoopMedia>()
  readonly refused: Array<{ at: string; reason: string }> = []
  /** Applied to the SDP of media made from now on (tests of fail-closed checks). */
  tamper: ((sdp: string) => string) | undefined
  /** Contacts each side refuses to reach (offline). */
  readonly offline = new Set<string>()
  timings = { noAnswerMs: 45_000, connectMs: 20_000, reconnectMs: 20_000 }

  add(): string {
    const id = hex(crypto.getRandomValues(new Uint8Array(32)))
    const engine = new CallEngine({
      self: id,
      now: () => this.now,
      timings: this.timings,
      setTimer: () => () => {},
      send: async (to, bytes) => {
        if (this.offline.has(to)) return false
        this.queue.push({ from: id, to, bytes })
        return true
      },
      media: (call) => {
        const m = new LoopMedia(this, id, call)
        m.tamper = this.tamper
        this.media.set(`${id}/${call.id}`, m)
        return m
      }
    })
    engine.addEventListener('refused', (e) => this.refused.push({ at: id, reason: (e as CustomEvent).detail.reason }))
    this.engines.set(id, engine)
    return id
  }

  engine(id: string): CallEngine {
    return this.engines.get(id)!
  }

  /** Both ends of call `callId` have both descriptions: report connected on each. */
  check(callId: string): void {
    const ends = [...this.media.entries()].filter(([k, m]) => k.endsWith(`/${callId}`) && !m.closed)
    if (ends.length === 2 && ends.every(([, m]) => m.local > 0 && m.remote > 0)) {
      queueMicrotask(() => {
        for (const [, m] of ends) this.engine(m.side).transport(callId, 'connected')
      })
    }
  }

  /** Delivers the oldest queued signal; returns it. */
  async deliverOne(): Promise<Sent | undefined> {
    const s = this.queue.shift()
    if (s === undefined) return undefined
    this.delivered.push(s)
    this.engine(s.to).receive(s.from, s.bytes)
    await settle()
    return s
  }

  /** Delivers until nothing is queued (media steps in between). */
  async drain(): Promise<void> {
    await settle()
    while ((await this.deliverOne()) !== undefined) {}
    await settle()
  }

  /** Moves the clock and runs due deadlines everywhere. */
  async advance(ms: number): Promise<void> {
    this.now += ms
    for (const e of this.engines.values()) e.tick()
    await settle()
  }

  call(at: string, callId: string): CallSnapshot | undefined {
    return this.engine(at).get(callId)
  }
}

/** Lets promise chains (media steps, sends) run. */
export async function settle(): Promise<void> {
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < 50; i++) await Promise.resolve()
    await new Promise((r) => setTimeout(r, 0))
  }
}

/** Every state a side's engine reported, by call id (the last one is where it is). */
export function track(engine: CallEngine): Map<string, CallSnapshot[]> {
  const out = new Map<string, CallSnapshot[]>()
  const on = (e: Event) => {
    const s = (e as CustomEvent<CallSnapshot>).detail
    out.set(s.id, [...(out.get(s.id) ?? []), s])
  }
  engine.addEventListener('state', on)
  engine.addEventListener('call', on)
  return out
}

export const last = (m: Map<string, CallSnapshot[]>, id: string): CallSnapshot | undefined => m.get(id)?.at(-1)
