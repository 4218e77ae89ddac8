/**
 * A peer flooding a group's topic with invalid messages: every one is refused by the engine (the topic validator says
 * Reject with a typed reason), gossipsub charges the peer P4, it falls below the graylist threshold and is ignored,
 * and delivery among the members holds meanwhile.
 */

import { multiaddr } from '@multiformats/multiaddr'
import { GOSSIP_GRAYLIST_THRESHOLD, gossipScore } from '@parley/network'
import { encodeGroupEnvelope } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, formGroup, type Member, member, meshed, stopAll, until } from './harness.ts'

let members: Member[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
})

describe('flooding', () => {
  it('a peer flooding invalid messages is graylisted while delivery to the others holds', async () => {
    members = []
    for (let i = 0; i < 6; i++) members.push(await member(`f${i}`))
    const flooder = await member('flooder')
    members.push(flooder)
    const group = members.slice(0, 6)
    await connect(group, 2)
    await formGroup(group[0] as Member, group.slice(1))
    await meshed(group, 2)
    const topic = (group[0] as Member).topic as string
    const victims = group.slice(0, 3)
    for (const v of victims) await flooder.node.dial(multiaddr(v.node.getMultiaddrs()[0]?.toString() ?? ''))
    flooder.node.services.pubsub.subscribe(topic)
    await until(() => flooder.transport.subscribers(topic).length >= 3, 10_000, 'flooder sees the topic')

    let sent = 0
    const flood = (async () => {
      for (; sent < 300; sent++) {
        const junk = crypto.getRandomValues(new Uint8Array(200))
        await flooder.node.services.pubsub.publish(topic, encodeGroupEnvelope(junk)).catch(() => {})
        if (sent % 20 === 0) await new Promise((r) => setTimeout(r, 10))
      }
    })()
    // Members keep talking during the flood.
    for (let k = 0; k < 10; k++) {
      for (const m of group.slice(0, 3)) await m.engine?.sendText(`${m.name} ${k}`)
    }
    await flood
    const flooderId = flooder.peerId.toString()
    await until(
      () => victims.every((v) => gossipScore(v.node.services.pubsub, flooderId) <= GOSSIP_GRAYLIST_THRESHOLD),
      20_000,
      'flooder graylisted by the members it reached'
    )
    for (const v of victims) expect(v.drops.filter((d) => d === 'Malformed').length).toBeGreaterThan(0)
    await until(
      () => group.every((m) => m.texts.length >= (group.slice(0, 3).includes(m) ? 20 : 30)),
      30_000,
      'delivery held'
    )
    for (const m of group) {
      expect(m.texts).toHaveLength(group.slice(0, 3).includes(m) ? 20 : 30)
      expect(m.texts.every((t) => /^f[0-2] \d$/.test(t.text))).toBe(true)
    }
    // Graylisted: what it sends now is dropped before validation (no new Malformed drops). First let what the flood
    // already queued on the streams drain (RPCs read before the score fell were validated).
    let settled = victims.map((v) => v.drops.length)
    await until(
      async () => {
        await new Promise((r) => setTimeout(r, 1000))
        const now = victims.map((v) => v.drops.length)
        const same = now.every((n, i) => n === settled[i])
        settled = now
        return same
      },
      20_000,
      'the flood drained'
    )
    const before = victims.map((v) => v.drops.length)
    for (let i = 0; i < 20; i++)
      await flooder.node.services.pubsub.publish(topic, encodeGroupEnvelope(new Uint8Array(50).fill(i))).catch(() => {})
    await new Promise((r) => setTimeout(r, 500))
    expect(victims.map((v) => v.drops.length)).toEqual(before)
  }, 120_000)
})
