/**
 * Schedules drawn from the seed before a run starts: churn (who leaves when, crash or graceful, when they come back)
 * and traffic (who writes to whom when). A plan depends only on the seed and the parameters, so the same seed gives
 * the same churn and traffic and the run's results.json records a digest of each.
 */
import { createHash } from 'node:crypto'
import { Rng } from './rng.ts'

/** One churn event. */
export interface ChurnEvent {
  /** Seconds after the traffic phase starts. */
  at: number
  node: number
  kind: 'crash' | 'leave' | 'rejoin'
}

/** One planned message. */
export interface PlannedMessage {
  id: number
  at: number
  from: number
  to: number
}

/**
 * Churn: each node leaves at rate `perMinute`, as a crash with probability `crashShare`, and comes back after an
 * exponential downtime (mean `downtime` s) unless its crash is permanent. No one leaves in the last fifth of the run
 * and everyone who will come back is back by then, so what is still undelivered at the end is the churn's doing.
 */
export function planChurn(
  seed: string,
  nodes: number,
  duration: number,
  o: {
    perMinute: number
    crashShare: number
    downtime: number
    permanentCrash: boolean
    exempt?: (i: number) => boolean
  }
): ChurnEvent[] {
  const out: ChurnEvent[] = []
  if (o.perMinute <= 0) return out
  const last = duration * 0.8
  for (let i = 0; i < nodes; i++) {
    if (o.exempt?.(i)) continue
    const rng = new Rng(seed, `churn/${i}`)
    let t = rng.exponential(60 / o.perMinute)
    while (t < last) {
      const crash = rng.chance(o.crashShare)
      out.push({ at: t, node: i, kind: crash ? 'crash' : 'leave' })
      if (crash && o.permanentCrash) break
      const back = Math.min(last, t + rng.exponential(o.downtime))
      out.push({ at: back, node: i, kind: 'rejoin' })
      t = back + rng.exponential(60 / o.perMinute)
    }
  }
  return out.sort((a, b) => a.at - b.at || a.node - b.node)
}

/** Contacts: each node gets `perNode` partners drawn from the seed (symmetric: both add each other). */
export function planContacts(seed: string, nodes: number, perNode: number): Array<[number, number]> {
  const rng = new Rng(seed, 'contacts')
  const pairs = new Set<string>()
  for (let i = 0; i < nodes; i++) {
    for (const j of rng.sample(nodes - 1, Math.min(perNode, nodes - 1))) {
      const other = j >= i ? j + 1 : j
      pairs.add(i < other ? `${i}-${other}` : `${other}-${i}`)
    }
  }
  return [...pairs].map((s) => s.split('-').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
}

/** Whether node i is up at time t under `churn` (nodes start up). */
export function upAt(churn: readonly ChurnEvent[], node: number, t: number): boolean {
  let up = true
  for (const e of churn) {
    if (e.at > t) break
    if (e.node === node) up = e.kind === 'rejoin'
  }
  return up
}

/**
 * Traffic: messages at Poisson times (`perMinute` per node), each from a node to one of its contacts, during the first
 * 80% of the run; a message whose sender is down at that time is not planned.
 */
export function planTraffic(
  seed: string,
  nodes: number,
  duration: number,
  contacts: ReadonlyArray<[number, number]>,
  perMinute: number,
  churn: readonly ChurnEvent[]
): PlannedMessage[] {
  const rng = new Rng(seed, 'traffic')
  const partners: number[][] = Array.from({ length: nodes }, () => [])
  for (const [a, b] of contacts) {
    partners[a]!.push(b)
    partners[b]!.push(a)
  }
  const out: PlannedMessage[] = []
  const last = duration * 0.8
  const rate = (perMinute * nodes) / 60
  if (rate <= 0) return out
  for (let t = rng.exponential(1 / rate); t < last; t += rng.exponential(1 / rate)) {
    const from = rng.int(nodes)
    const list = partners[from]!
    if (list.length === 0) continue
    const to = list[rng.int(list.length)]!
    if (!upAt(churn, from, t)) continue
    out.push({ id: out.length, at: t, from, to })
  }
  return out
}

/** A short digest of a plan (results.json records it; equal digests mean equal plans). */
export function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)
}
