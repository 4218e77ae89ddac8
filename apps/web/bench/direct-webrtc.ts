/**
 * bench:web's direct-WebRTC part, run inside the test network namespace (scripts/netns.ts) by web.bench.ts: H2's
 * measureDirectWebRTC (test/netns-kit.ts) — two pages of the browser preset through a relay on 10.99.0.1, dial →
 * open direct WebRTC, median over runs. Prints one JSON line.
 */
const kitUrl = new URL('../../../test/netns-kit.ts', import.meta.url).href
const kit = (await import(kitUrl)) as {
  assertInNetns(): void
  measureDirectWebRTC(o?: { runs?: number }): Promise<{ samples: number[]; median_ms: number; warmup_ms: number }>
}
kit.assertInNetns()
const runs = process.env.BENCH_RUNS === undefined ? undefined : Math.max(3, Number(process.env.BENCH_RUNS))
const figures = await kit.measureDirectWebRTC(runs === undefined ? {} : { runs })
console.log(JSON.stringify(figures))
process.exit(0)
