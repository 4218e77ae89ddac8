/**
 * Run parameters: the common ones every scenario takes (size, seed, duration, network model, churn) and checks that
 * name the bad parameter. A scenario adds its own through ParamSpec.
 */
import { MAX_DURATION_S, MAX_LOSS, MAX_NODES, MAX_RELAYS, MAX_WORKERS, MIN_NODES } from './constants.ts'
import { InvalidParameterError } from './errors.ts'
import type { LinkModel } from './model.ts'

/** Parameters of every run. */
export interface CommonParams {
  nodes: number
  seed: string
  /** Seconds of wall time the scenario's traffic phase lasts. */
  duration: number
  relays: number
  /** Median one-way link latency (ms) of the log-normal distribution; `latencySigma` 0 makes it constant. */
  latencyMs: number
  latencySigma: number
  jitterMs: number
  loss: number
  /** Uplink per node, kbit/s (0: unlimited). */
  bandwidthKbps: number
  /** Kademlia k (bucket size and replication). */
  k: number
  /** Leaves per node per minute (churn); 0: no churn. */
  churn: number
  /** Share of leaves that are crashes rather than graceful stops. */
  crashShare: number
  /** Mean time a node that left stays away (s). */
  downtime: number
  /** Crashes lose the node for good (device gone) instead of restarting it with its stored state. */
  permanentCrash: boolean
  /** Worker threads the nodes are spread over (1: all in the main thread; only scenarios that allow it). */
  workers: number
}

export const DEFAULT_COMMON: Readonly<Omit<CommonParams, 'nodes' | 'seed'>> = Object.freeze({
  duration: 30,
  relays: 0,
  latencyMs: 20,
  latencySigma: 0.5,
  jitterMs: 2,
  loss: 0,
  bandwidthKbps: 0,
  k: 20,
  churn: 0,
  crashShare: 0.5,
  downtime: 5,
  permanentCrash: false,
  workers: 1
})

/** One extra parameter of a scenario. */
export interface ParamSpec {
  name: string
  description: string
  default: number
  min: number
  max: number
  integer: boolean
}

function num(name: string, v: unknown, min: number, max: number, integer: boolean): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new InvalidParameterError(name, `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`, v)
  }
  return n
}

/** A duration may carry its unit: `60s` is 60 (seconds); anything else is left for num() to check. */
const seconds = (v: unknown): unknown =>
  typeof v === 'string' && /^\s*\d+(\.\d+)?\s*s\s*$/.test(v) ? v.trim().slice(0, -1) : v

/** Checks and completes the common parameters (throws InvalidParameterError naming the first bad one). */
export function checkCommon(raw: Record<string, unknown>): CommonParams {
  const d = DEFAULT_COMMON
  const seed = raw.seed ?? '1'
  if (typeof seed !== 'string' && typeof seed !== 'number') throw new InvalidParameterError('seed', 'a string', seed)
  if (raw.nodes === undefined)
    throw new InvalidParameterError('nodes', `an integer in [${MIN_NODES}, ${MAX_NODES}]`, raw.nodes)
  const p: CommonParams = {
    nodes: num('nodes', raw.nodes, MIN_NODES, MAX_NODES, true),
    seed: String(seed),
    duration: num('duration', seconds(raw.duration ?? d.duration), 1, MAX_DURATION_S, false),
    relays: num('relays', raw.relays ?? d.relays, 0, MAX_RELAYS, true),
    latencyMs: num('latency-ms', raw.latencyMs ?? d.latencyMs, 0, 10_000, false),
    latencySigma: num('latency-sigma', raw.latencySigma ?? d.latencySigma, 0, 3, false),
    jitterMs: num('jitter-ms', raw.jitterMs ?? d.jitterMs, 0, 10_000, false),
    loss: num('loss', raw.loss ?? d.loss, 0, MAX_LOSS, false),
    bandwidthKbps: num('bandwidth-kbps', raw.bandwidthKbps ?? d.bandwidthKbps, 0, 10_000_000, false),
    k: num('k', raw.k ?? d.k, 2, 100, true),
    churn: num('churn', raw.churn ?? d.churn, 0, 60, false),
    crashShare: num('crash-share', raw.crashShare ?? d.crashShare, 0, 1, false),
    downtime: num('downtime', raw.downtime ?? d.downtime, 0, MAX_DURATION_S, false),
    permanentCrash: raw.permanentCrash === true || raw.permanentCrash === 'true',
    workers: num('workers', raw.workers ?? d.workers, 1, MAX_WORKERS, true)
  }
  return p
}

/** Checks a scenario's own parameters against their specs (defaults filled in). */
export function checkExtra(specs: readonly ParamSpec[], raw: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of specs) out[s.name] = num(s.name, raw[s.name] ?? s.default, s.min, s.max, s.integer)
  return out
}

/** The link model of the common parameters. */
export function linkModelOf(p: CommonParams): LinkModel {
  return {
    latency:
      p.latencySigma === 0
        ? { kind: 'constant', ms: p.latencyMs }
        : { kind: 'lognormal', median: p.latencyMs, sigma: p.latencySigma },
    jitterMs: p.jitterMs,
    loss: p.loss,
    bandwidthBps: (p.bandwidthKbps * 1000) / 8
  }
}
