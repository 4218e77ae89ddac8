/**
 * The branches one member holds of a group: the MLS states of the last GROUP_FORK_WINDOW_EPOCHS epochs, each with the
 * hash of the commit envelope that led to it, and which devices are members in any of them (gossip accepts a message
 * only from those). Fork resolution (commits.ts) switches branches here; nothing here decides which branch wins.
 */
import { type MlsGroup, toHex } from '@parley/crypto'
import { GROUP_FORK_WINDOW_EPOCHS } from './constants.ts'

/** One state we keep. */
export interface Held {
  readonly group: MlsGroup
  /** Hash of the commit envelope that led here (undefined for the state we started from). */
  readonly via?: string
}

export class Branches {
  private states: Held[]
  private readonly peerSets = new Map<string, Set<string>>()
  private readonly peerOf: (deviceKey: Uint8Array) => string

  constructor(group: MlsGroup, peerOf: (deviceKey: Uint8Array) => string) {
    this.states = [{ group }]
    this.peerOf = peerOf
  }

  /** The state at our head. */
  get head(): MlsGroup {
    return (this.states.at(-1) as Held).group
  }

  /** The oldest epoch whose state we keep. */
  get oldest(): bigint {
    return (this.states[0] as Held).group.epoch
  }

  /** The index of the state we keep at `epoch`, or -1. */
  indexOf(epoch: bigint): number {
    return this.states.findIndex((s) => s.group.epoch === epoch)
  }

  /** True when we keep a state at `epoch`. */
  has(epoch: bigint): boolean {
    return this.states.some((s) => s.group.epoch === epoch)
  }

  at(index: number): Held | undefined {
    return this.states[index]
  }

  /** A new head on top of the current one (our own commit). */
  push(held: Held): void {
    this.states.push(held)
    this.trim()
  }

  /** The state at `index` moved on (an application message advanced its secret tree). */
  replace(index: number, held: Held, group: MlsGroup): void {
    this.states[index] = { ...held, group }
  }

  /** The head moved on (we encrypted at it). */
  replaceHead(group: MlsGroup): void {
    this.states[this.states.length - 1] = { ...(this.states.at(-1) as Held), group }
  }

  /** A commit applied on the state at `index` becomes the next state; what followed it is returned (the lost branch). */
  switchAt(index: number, held: Held): Held[] {
    const lost = this.states.slice(index + 1)
    this.states = [...this.states.slice(0, index + 1), held]
    this.trim()
    return lost
  }

  /** True when `peer` is the device of a member in any state we keep. */
  knownPeer(peer: string): boolean {
    for (const s of this.states) {
      const key = toHex(s.group.epochAuthenticator)
      let peers = this.peerSets.get(key)
      if (peers === undefined) {
        peers = new Set(s.group.members().map((m) => this.peerOf(m.certificate.deviceKey)))
        this.peerSets.set(key, peers)
        if (this.peerSets.size > 4 * (GROUP_FORK_WINDOW_EPOCHS + 1)) {
          const first = this.peerSets.keys().next().value
          if (first !== undefined) this.peerSets.delete(first)
        }
      }
      if (peers.has(peer)) return true
    }
    return false
  }

  private trim(): void {
    while (this.states.length > GROUP_FORK_WINDOW_EPOCHS + 1) this.states.shift()
  }
}
