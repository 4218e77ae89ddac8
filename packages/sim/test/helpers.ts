/** Checks on a run's files: every file there, SVG plots with marks, PNG plots that decode. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { inflateSync } from 'node:zlib'
import { expect } from 'vitest'
import { planChurn, planContacts, planTraffic, type RunRecord, upAt, type World } from '../src/index.ts'

/** Decodes a PNG's header and image data (zlib) and checks the pixel rows add up: width, height of a real image. */
export function decodePng(bytes: Uint8Array): { width: number; height: number } {
  const buf = Buffer.from(bytes)
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
  let off = 8
  let width = 0
  let height = 0
  let channels = 0
  const idat: Buffer[] = []
  while (off < buf.length) {
    const len = buf.readUInt32BE(off)
    const type = buf.subarray(off + 4, off + 8).toString('latin1')
    const data = buf.subarray(off + 8, off + 8 + len)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      expect(data[8]).toBe(8)
      channels = ({ 2: 3, 6: 4, 0: 1, 4: 2 } as Record<number, number>)[data[9]!] ?? 0
    }
    if (type === 'IDAT') idat.push(data)
    off += 12 + len
  }
  const raw = inflateSync(Buffer.concat(idat))
  expect(raw.length).toBe(height * (1 + width * channels))
  return { width, height }
}

/** Every file the record promises is there and non-empty; plots have marks and decode. */
export async function checkRunFiles(dir: string, record: RunRecord): Promise<void> {
  const files = await readdir(dir)
  for (const name of ['results.json', 'report.md']) expect(files).toContain(name)
  for (const table of Object.keys(record.result.tables)) expect(files).toContain(`${table}.csv`)
  expect(record.result.plots.length).toBeGreaterThan(0)
  const report = await readFile(join(dir, 'report.md'), 'utf8')
  for (const p of record.result.plots) {
    const svg = await readFile(join(dir, `${p.name}.svg`), 'utf8')
    expect(svg.startsWith('<svg')).toBe(true)
    // Vega draws data as mark groups (class="mark-line", "mark-symbol", "mark-rect"…) holding paths or shapes.
    expect(svg).toMatch(/class="mark-(line|symbol|rect|rule|area)[^"]*"[^>]*>\s*<(path|line|rect)/)
    const { width, height } = decodePng(await readFile(join(dir, `${p.name}.png`)))
    expect(width).toBeGreaterThan(100)
    expect(height).toBeGreaterThan(100)
    expect(report).toContain(`(${p.name}.svg)`)
  }
  const results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as RunRecord
  expect(results.params.nodes).toBe(record.params.nodes)
  expect(results.machine.cpus).toBeGreaterThan(0)
  for (const [table, rows] of Object.entries(record.result.tables)) {
    const csv = (await readFile(join(dir, `${table}.csv`), 'utf8')).trimEnd().split('\n')
    // A header, then one line per row (an empty table, e.g. churn without churn, is an empty file).
    expect(csv.length).toBe(rows.length === 0 ? 1 : rows.length + 1)
    if (rows.length > 0) expect(csv[0]!.split(',')).toEqual(Object.keys(rows[0]!))
  }
}

/** Waits until every node up has published its record at least once (at most `ms`). */
export async function untilPublished(world: World, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (world.upNodes().some((i) => (world.probe(i)?.puts ?? 0) === 0)) {
    if (Date.now() > end) throw new Error(`records not all published within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Each lookup `from → to` finds `to`'s record (a live kad-dht walk), at least `minHops` hops away. */
export async function expectLookupsFind(
  world: World,
  pairs: ReadonlyArray<readonly [number, number]>,
  minHops = 0
): Promise<void> {
  for (const [from, to] of pairs) {
    const r = await world.lookup(from, to, 30_000, AbortSignal.timeout(60_000))
    expect(r?.ok, `lookup ${from} → ${to}`).toBe(true)
    expect(r?.hops).toBeGreaterThanOrEqual(minHops)
  }
}

/**
 * Messages that must be lost under the plan alone (crash churn: half the churn events crash for good, 6 s downtime):
 * the recipient is away (left, will return) from the moment the message is sent until its sender crashes for good;
 * with no mailbox relays the sender held the only copy.
 */
export function certainLosses(seed: string, nodes: number, duration: number, churnRate: number, rate: number): number {
  const churn = planChurn(seed, nodes, duration, {
    perMinute: churnRate,
    crashShare: 0.5,
    downtime: 6,
    permanentCrash: true
  })
  const traffic = planTraffic(seed, nodes, duration, planContacts(seed, nodes, 2), rate, churn)
  let n = 0
  for (const m of traffic) {
    const crash = churn.find((e) => e.node === m.from && e.kind === 'crash' && e.at > m.at)
    if (crash === undefined) continue
    const gone = churn.some((e) => e.node === m.to && e.kind === 'crash' && e.at <= crash.at + 1)
    let awayThroughout = !gone && !upAt(churn, m.to, m.at)
    for (const e of churn) if (e.node === m.to && e.at > m.at && e.at <= crash.at + 1) awayThroughout = false
    if (awayThroughout) n++
  }
  return n
}
