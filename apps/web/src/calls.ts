/**
 * Calls in the web app: a `CallController` (@parley/calls/browser) bound to the running messenger, loaded lazily —
 * its code (state machine, SFrame, WebRTC binding) is imported on the first call we place or the first call signal
 * that arrives, so the start bundle does not carry it. Signals that arrive while it loads are kept and handed to it in
 * order. Ended calls become call entries of the conversation (kept in the encrypted profile's meta namespace, like
 * the app's read positions), and a call missed while the tab is hidden shows a notification (never any content).
 */
import type { CallController, CallQuality, CallSnapshot } from '@parley/calls/browser'
import type { Messenger } from '@parley/messenger'
import {
  groupLegs,
  type MeshRecord,
  type MeshView,
  meshReason,
  newMesh,
  noteLeg,
  rememberBounded
} from './call-mesh.ts'
import { MAX_CALL_LOG, MAX_LEFT_MESHES, META_CALLS } from './constants.ts'

/** One call in a conversation's history. */
export interface CallEntry {
  readonly id: string
  readonly contact: string
  readonly direction: 'out' | 'in'
  readonly video: boolean
  /** When the call was placed or began ringing here (ms since epoch). */
  readonly startedAt: number
  /** Media connected (the call was answered). */
  readonly connectedAt?: number
  readonly endedAt: number
  /** How it ended: hangup, remote-hangup, declined, busy, missed, no-answer, failed, security. */
  readonly reason: string
  /** A group (mesh) call: set for every one; `contact` is then the member who rang us (or the first we rang). */
  readonly mesh?: true
  /** The chat group of a group call, when known (it is then shown in that group, not in `contact`'s chat). */
  readonly group?: string
}

/** What the app needs from its session (kept narrow: no import cycle with session.ts). */
export interface CallHost {
  readonly messenger: Messenger
  readonly iceServers: RTCIceServer[]
  readonly me: string
  getMeta(key: string): Promise<Uint8Array | undefined>
  putMeta(key: string, value: Uint8Array): Promise<void>
  /** A missed call while the tab is hidden. */
  missed(contact: string): void
  changed(): void
}

export type Quality = CallQuality & { id: string }

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

export class Calls extends EventTarget {
  readonly #host: CallHost
  /** Signals received before the controller was loaded (in order), and where later ones go. */
  readonly #relay = new EventTarget()
  readonly #pending: CustomEvent[] = []
  #controller: CallController | undefined
  #loading: Promise<CallController> | undefined
  #log: CallEntry[] = []
  #loaded: Promise<void>
  readonly #logged = new Set<string>()
  /** Latest quality per call, and running calls' snapshots (what the call screens render). */
  readonly quality = new Map<string, Quality>()
  readonly streams = new Map<string, MediaStream>()
  local: MediaStream | undefined
  /** Group calls by mesh id (see call-mesh.ts), until their entry is written. */
  readonly #meshes = new Map<string, MeshRecord>()
  /** Group calls we declined or left (newest last, at most MAX_LEFT_MESHES): their legs that ring later are declined. */
  readonly #left = new Set<string>()
  /** Finds the chat group of a call by its participants (set by the app shell; none: shown by names). */
  groupOf: (participants: string[]) => string | undefined = () => undefined
  readonly #onSignal = (e: Event) => {
    const detail = (e as CustomEvent).detail
    if (this.#controller === undefined) {
      this.#pending.push(new CustomEvent('call-signal', { detail }))
      void this.load()
    } else this.#relay.dispatchEvent(new CustomEvent('call-signal', { detail }))
  }

  constructor(host: CallHost) {
    super()
    this.#host = host
    host.messenger.events.addEventListener('call-signal', this.#onSignal)
    this.#loaded = this.#readLog()
  }

  async #readLog(): Promise<void> {
    const b = await this.#host.getMeta(META_CALLS).catch(() => undefined)
    if (b === undefined) return
    this.#log = parseCallLog(b)
    for (const e of this.#log) this.#logged.add(e.id)
  }

  /** The controller, loading its code on first use. */
  load(): Promise<CallController> {
    if (this.#loading === undefined) {
      this.#loading = import('@parley/calls/browser').then((m) => {
        const messenger = this.#host.messenger
        const controller = new m.CallController({
          self: this.#host.me,
          transport: m.messengerTransport({ signals: messenger.signals, events: this.#relay }),
          iceServers: this.#host.iceServers
        })
        this.#controller = controller
        const emit = () => this.dispatchEvent(new Event('change'))
        controller.addEventListener('state', (e) => {
          const s = (e as CustomEvent<CallSnapshot>).detail
          this.seen(s)
          if (s.group !== undefined) this.#meshLeg(s, controller)
          if (s.phase === 'ended') {
            this.streams.delete(s.id)
            this.quality.delete(s.id)
            if (controller.calls().length === 0) this.local = undefined
            if (s.group === undefined) void this.#record(s)
          }
          emit()
        })
        controller.addEventListener('stream', (e) => {
          const d = (e as CustomEvent<{ id: string; stream: MediaStream }>).detail
          this.streams.set(d.id, d.stream)
          emit()
        })
        controller.addEventListener('local', (e) => {
          this.local = (e as CustomEvent<MediaStream>).detail
          emit()
        })
        controller.addEventListener('quality', (e) => {
          const q = (e as CustomEvent<Quality>).detail
          this.quality.set(q.id, q)
          emit()
        })
        for (const p of this.#pending.splice(0)) this.#relay.dispatchEvent(p)
        return controller
      })
      this.#loading.catch(() => {
        this.#loading = undefined
      })
    }
    return this.#loading
  }

  get controller(): CallController | undefined {
    return this.#controller
  }

  /** Running calls (ringing, connecting, active). */
  running(): CallSnapshot[] {
    return this.#controller?.calls().filter((c) => c.phase !== 'ended') ?? []
  }

  async call(contact: string, video: boolean): Promise<CallSnapshot> {
    const c = await this.load()
    return c.call(contact, { video })
  }

  /** Call entries of one conversation, oldest first (group calls of an unknown group show in the caller's chat). */
  async entries(contact: string): Promise<CallEntry[]> {
    await this.#loaded
    return this.#log.filter((e) => e.contact === contact && e.group === undefined)
  }

  /** Call entries of one chat group, oldest first. */
  async groupEntries(group: string): Promise<CallEntry[]> {
    await this.#loaded
    return this.#log.filter((e) => e.group === group)
  }

  // ------------------------------------------------------------------ group (mesh) calls

  /** Running group calls, oldest first: one view per mesh, whatever the number of its legs. */
  meshes(): MeshView[] {
    const out: MeshView[] = []
    for (const [id, legs] of groupLegs(this.running())) {
      const record = this.#meshes.get(id)
      if (record === undefined || record.left !== undefined) continue
      out.push({ record, legs, incoming: legs.every((l) => l.phase === 'incoming') })
    }
    return out.sort((a, b) => a.record.startedAt - b.record.startedAt)
  }

  /** Starts a group call with the members of chat group `chat` (not us): one leg each (engine: MAX_CONCURRENT_CALLS). */
  async callGroup(chat: string, members: string[], video: boolean): Promise<MeshView> {
    const c = await this.load()
    const legs = c.callGroup(members, { video })
    // No call ran (else the engine threw busy), so this only sets whether the devices, opened for the first leg's
    // media after this tick, include the camera: voice or video for every leg, as asked.
    void c.setVideo(video)
    const m = this.#meshes.get(legs[0]?.group?.id ?? '')
    if (m === undefined) throw new TypeError('a group call without legs')
    m.chat = chat
    return { record: m, legs, incoming: false }
  }

  /** Joins a ringing group call: the engine accepts its ringing legs and dials the members it should. */
  async acceptGroup(mesh: string): Promise<void> {
    const c = await this.load()
    const m = this.#meshes.get(mesh)
    const leg = c.calls().find((x) => x.group?.id === mesh && x.phase === 'incoming')
    if (m === undefined || leg === undefined) return
    await c.setVideo(m.video)
    c.accept(leg.id)
  }

  /** Declines a ringing group call (every leg; legs that ring later are declined too). */
  declineGroup(mesh: string): void {
    this.#leave(mesh, 'declined')
  }

  /** Leaves a group call: our legs end, the others stay connected with each other. */
  leaveGroup(mesh: string): void {
    this.#leave(mesh, 'left')
  }

  #leave(mesh: string, how: 'declined' | 'left'): void {
    const m = this.#meshes.get(mesh)
    const c = this.#controller
    if (m === undefined || c === undefined) return
    m.left = how
    rememberBounded(this.#left, mesh, MAX_LEFT_MESHES)
    for (const leg of c.calls()) if (leg.group?.id === mesh && leg.phase !== 'ended') this.#end(c, leg)
    this.dispatchEvent(new Event('change'))
  }

  #end(c: CallController, leg: CallSnapshot): void {
    try {
      if (leg.phase === 'incoming') c.decline(leg.id)
      else c.hangup(leg.id)
    } catch {
      // It ended meanwhile.
    }
  }

  /** One leg's change: its mesh's record, auto-decline of legs of a mesh we left, the entry when the last leg ends. */
  #meshLeg(s: CallSnapshot, c: CallController): void {
    const id = s.group?.id ?? ''
    let m = this.#meshes.get(id)
    if (m === undefined && this.#left.has(id)) {
      // A member who joined after we declined or left calls us: that leg never rings here, and logs nothing.
      if (s.phase === 'incoming') queueMicrotask(() => this.#end(c, s))
      return
    }
    if (m === undefined) {
      m = newMesh(s, Date.now())
      this.#meshes.set(id, m)
    }
    noteLeg(m, s)
    // A leg of a call we declined or left rings later (a member joined after us): end it, outside this dispatch.
    if (m.left !== undefined && s.phase === 'incoming') queueMicrotask(() => this.#end(c, s))
    if (s.phase !== 'ended' || c.calls().some((x) => x.group?.id === id && x.phase !== 'ended')) return
    this.#meshes.delete(id)
    void this.#recordMesh(m)
  }

  async #recordMesh(m: MeshRecord): Promise<void> {
    await this.#loaded
    if (this.#logged.has(m.id)) return
    this.#logged.add(m.id)
    const chat = m.chat ?? this.groupOf([...m.participants])
    const entry: CallEntry = {
      id: m.id,
      contact: m.firstContact,
      direction: m.direction,
      video: m.video,
      startedAt: m.startedAt,
      ...(m.connectedAt !== undefined && { connectedAt: m.connectedAt }),
      endedAt: Date.now(),
      reason: meshReason(m),
      mesh: true,
      ...(chat !== undefined && { group: chat })
    }
    await this.#append(entry)
  }

  async #record(s: CallSnapshot): Promise<void> {
    await this.#loaded
    // A glare loser is dropped silently (the other call of the pair is the real one).
    if (this.#logged.has(s.id) || s.reason === 'glare') return
    this.#logged.add(s.id)
    const now = Date.now()
    const entry: CallEntry = {
      id: s.id,
      contact: s.contact,
      direction: s.role === 'caller' ? 'out' : 'in',
      video: s.video,
      startedAt: this.#started.get(s.id) ?? s.since,
      ...(s.connectedAt !== undefined && { connectedAt: s.connectedAt }),
      endedAt: now,
      reason: s.reason ?? 'hangup'
    }
    await this.#append(entry)
  }

  async #append(entry: CallEntry): Promise<void> {
    this.#log = appendCallEntry(this.#log, entry)
    await this.#host.putMeta(META_CALLS, json(this.#log)).catch(() => {})
    if (entry.reason === 'missed' && typeof document !== 'undefined' && document.visibilityState === 'hidden')
      this.#host.missed(entry.contact)
    this.#host.changed()
    this.dispatchEvent(new Event('change'))
  }

  readonly #started = new Map<string, number>()

  /** Remembers when a call first showed (for its entry's start time). */
  seen(s: CallSnapshot): void {
    if (!this.#started.has(s.id)) this.#started.set(s.id, s.since)
  }

  close(): void {
    this.#host.messenger.events.removeEventListener('call-signal', this.#onSignal)
    this.#controller?.close()
  }
}

/** The log with one more entry: the newest MAX_CALL_LOG are kept. */
export function appendCallEntry(log: readonly CallEntry[], entry: CallEntry): CallEntry[] {
  return [...log, entry].slice(-MAX_CALL_LOG)
}

const REASONS = new Set(['hangup', 'remote-hangup', 'declined', 'busy', 'missed', 'no-answer', 'failed', 'security'])

/** The stored call log (the profile's `web/calls` record): malformed entries are dropped, at most MAX_CALL_LOG kept. */
export function parseCallLog(bytes: Uint8Array): CallEntry[] {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return []
  }
  if (!Array.isArray(v)) return []
  const ok = (e: Record<string, unknown>): boolean =>
    typeof e.id === 'string' &&
    typeof e.contact === 'string' &&
    (e.direction === 'out' || e.direction === 'in') &&
    typeof e.video === 'boolean' &&
    typeof e.startedAt === 'number' &&
    typeof e.endedAt === 'number' &&
    (e.connectedAt === undefined || typeof e.connectedAt === 'number') &&
    typeof e.reason === 'string' &&
    REASONS.has(e.reason) &&
    (e.mesh === undefined || e.mesh === true) &&
    (e.group === undefined || typeof e.group === 'string')
  return (v as Record<string, unknown>[])
    .filter((e) => typeof e === 'object' && e !== null && ok(e))
    .slice(-MAX_CALL_LOG) as unknown as CallEntry[]
}

/** "1:05" / "1:02:03" for a duration in ms. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}
