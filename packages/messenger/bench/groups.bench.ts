/**
 * `pnpm bench:groups`: a 50-member MLS group (X-Wing suite) over libp2p's in-memory transport with 20–80 ms link
 * latency (each node's outgoing buffers are delayed by its own figure in that range), against plain unencrypted
 * gossipsub on the same nodes, the same connections and the same gossipsub parameters, in the same run: group texts
 * and plain messages alternate from random senders. For each message: the time from send to the last member's
 * decrypt (group) or delivery (plain); p50 and p99 of both, and the delivery ratio. Then commit-and-apply time for
 * adding one member to groups of 10, 50 and 100 (the admin's commit plus one member applying it).
 *
 * All 50 members share this process's one event loop (and the machine's cores): every member's decryption of every
 * text is serialised here, which real members on their own devices do in parallel. Prints figures and asserts
 * nothing. Options (environment): BENCH_MESSAGES (per kind, default 60), BENCH_MEMBERS (default 50), BENCH_GAP_MS
 * (between sends, default 250). Last line: one JSON object.
 */
import { createKeyPackage, MlsGroup } from '@parley/crypto'
import { backend, connect, formGroup, type Member, member, meshed, stopAll, until } from '../test/groups/harness.ts'

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 60)
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50)
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 250)
const LATENCY: [number, number] = [20, 80]
/** The targets: group p99 within this multiple of plain gossipsub's, and every text delivered. */
const TARGETS = { ratioP99: 1.3, delivery: 1 }
const PLAIN_TOPIC = '/parley-bench/plain/1'
/** A message not at every member within this long counts as lost. */
const DEADLINE_MS = 20_000

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number
}
const r1 = (x: number) => Math.round(x * 10) / 10

async function commitAndApply(size: number): Promise<{ commit: number; apply: number }> {
  const people = await Promise.all(
    Array.from({ length: size }, async () => {
      const { generateIdentity, certifyDevice } = await import('@parley/crypto')
      const identity = await generateIdentity(backend)
      const now = Date.now()
      const device = await certifyDevice(backend, identity, {
        deviceKey: backend.randomBytes(36),
        issuedAt: now,
        expiresAt: now + 86_400_000
      })
      return createKeyPackage(backend, identity, device.certificate)
    })
  )
  let admin = await MlsGroup.create(backend, (people[0] as (typeof people)[0]).secret, { name: `bench ${size}` })
  const c = await admin.commit({ add: people.slice(1, size - 1).map((p) => p.keyPackage) })
  admin = c.group
  const other = await MlsGroup.join(
    backend,
    (people[1] as (typeof people)[0]).secret,
    c.welcome as Uint8Array,
    c.ratchetTree
  )
  const t0 = performance.now()
  const add = await admin.commit({ add: [(people[size - 1] as (typeof people)[0]).keyPackage] })
  const t1 = performance.now()
  await other.process(add.commit)
  const t2 = performance.now()
  if (add.group.members().length !== size) throw new Error(`expected ${size} members`)
  return { commit: t1 - t0, apply: t2 - t1 }
}

async function main(): Promise<void> {
  const t0 = performance.now()
  const members: Member[] = []
  for (let i = 0; i < MEMBERS; i++) members.push(await member(`b${i}`, { latency: LATENCY }))
  await connect(members, 3)
  const [admin, ...others] = members as [Member, ...Member[]]
  await formGroup(admin, others, 'bench')
  // The plain topic on the same nodes: every member subscribes and notes arrivals.
  const plainArrivals = new Map<string, number[]>()
  for (const m of members) {
    m.node.services.pubsub.subscribe(PLAIN_TOPIC)
    m.node.services.pubsub.addEventListener('message', (e) => {
      if (e.detail.topic !== PLAIN_TOPIC) return
      const key = new TextDecoder().decode(e.detail.data).split('|')[0] as string
      const list = plainArrivals.get(key) ?? []
      plainArrivals.set(key, list)
      list.push(performance.now())
    })
  }
  await meshed(members, 3, 60_000)
  await until(
    () => members.every((m) => m.node.services.pubsub.getSubscribers(PLAIN_TOPIC).length >= 3),
    60_000,
    'plain topic'
  )
  // Let the meshes settle (a few heartbeats).
  await new Promise((r) => setTimeout(r, 3000))
  console.log(`${MEMBERS} members up, group and plain topics meshed in ${r1((performance.now() - t0) / 1000)} s`)

  const groupSent = new Map<string, number>()
  const plainSent = new Map<string, number>()
  const groupArrivals = new Map<string, number[]>()
  // Arrival times are taken as the members' engines show each text.
  for (const m of members) {
    const push = m.texts.push.bind(m.texts)
    m.texts.push = (...items) => {
      const now = performance.now()
      for (const t of items) {
        const list = groupArrivals.get(t.id) ?? []
        groupArrivals.set(t.id, list)
        list.push(now)
      }
      return push(...items)
    }
  }

  const padding = 'x'.repeat(100)
  for (let k = 0; k < MESSAGES; k++) {
    const g = members[Math.floor(Math.random() * members.length)] as Member
    const sentAt = performance.now()
    const { id } = await (g.engine as NonNullable<Member['engine']>).sendText(`${k} ${padding}`)
    groupSent.set(id, sentAt)
    await new Promise((r) => setTimeout(r, GAP_MS))
    const p = members[Math.floor(Math.random() * members.length)] as Member
    const key = `plain-${k}`
    plainSent.set(key, performance.now())
    await p.node.services.pubsub.publish(PLAIN_TOPIC, new TextEncoder().encode(`${key}|${padding}`))
    await new Promise((r) => setTimeout(r, GAP_MS))
  }
  await new Promise((r) => setTimeout(r, 3000))
  const expected = MEMBERS - 1
  const latencies = (sent: Map<string, number>, arrivals: Map<string, number[]>) => {
    const lat: number[] = []
    let delivered = 0
    for (const [id, at] of sent) {
      const got = (arrivals.get(id) ?? []).filter((t) => t - at <= DEADLINE_MS)
      delivered += Math.min(got.length, expected)
      if (got.length >= expected) lat.push(Math.max(...got) - at)
    }
    return { lat, delivered: delivered / (sent.size * expected) }
  }
  const group = latencies(groupSent, groupArrivals)
  const plain = latencies(plainSent, plainArrivals)
  console.log(
    `group (MLS over gossipsub): p50 ${r1(pct(group.lat, 50))} ms, p99 ${r1(pct(group.lat, 99))} ms to the last of ${expected} members; delivery ${r1(group.delivered * 100)}%`
  )
  console.log(
    `plain gossipsub (same nodes): p50 ${r1(pct(plain.lat, 50))} ms, p99 ${r1(pct(plain.lat, 99))} ms; delivery ${r1(plain.delivered * 100)}%`
  )
  const ratioP99 = pct(group.lat, 99) / pct(plain.lat, 99)
  const ratioP50 = pct(group.lat, 50) / pct(plain.lat, 50)
  console.log(
    `ratio group/plain: p50 ${ratioP50.toFixed(2)}×, p99 ${ratioP99.toFixed(2)}× (target ≤ ${TARGETS.ratioP99}×)`
  )
  await stopAll(members)

  const commits: Record<number, { commit: number; apply: number }> = {}
  for (const size of [10, 50, 100]) {
    commits[size] = await commitAndApply(size)
    const c = commits[size] as { commit: number; apply: number }
    console.log(
      `add one member to reach ${size}: commit ${r1(c.commit)} ms, apply ${r1(c.apply)} ms, commit+apply ${r1(c.commit + c.apply)} ms`
    )
  }
  const result = {
    members: MEMBERS,
    messages: MESSAGES,
    latency_ms: LATENCY,
    group_p50_ms: r1(pct(group.lat, 50)),
    group_p99_ms: r1(pct(group.lat, 99)),
    plain_p50_ms: r1(pct(plain.lat, 50)),
    plain_p99_ms: r1(pct(plain.lat, 99)),
    ratio_p50_vs_plain: Math.round(ratioP50 * 100) / 100,
    ratio_p99_vs_plain: Math.round(ratioP99 * 100) / 100,
    delivery_ratio: Math.round(group.delivered * 10_000) / 10_000,
    plain_delivery_ratio: Math.round(plain.delivered * 10_000) / 10_000,
    commit_ms_10_members: r1((commits[10]?.commit ?? 0) + (commits[10]?.apply ?? 0)),
    commit_ms_50_members: r1((commits[50]?.commit ?? 0) + (commits[50]?.apply ?? 0)),
    commit_ms_100_members: r1((commits[100]?.commit ?? 0) + (commits[100]?.apply ?? 0)),
    target_ratio_p99: TARGETS.ratioP99,
    target_delivery: TARGETS.delivery
  }
  console.log(JSON.stringify(result))
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
