/**
 * Prints the dial → open direct WebRTC figures between two browser nodes (Chromium, the browser preset) through a
 * local relay, inside the test namespace: the figure bench:web reports as `direct_webrtc_median_ms`.
 *
 *   node scripts/netns.ts node test/measure-direct-webrtc.ts [runs]      (through pnpm: pnpm exec node …)
 *
 * Last line: one JSON object `{ runs, median_ms, samples_ms, warmup_ms }`.
 */
import { DIRECT_WEBRTC_RUNS, measureDirectWebRTC } from './netns-kit.ts'

const runs = Number(process.argv[2] ?? DIRECT_WEBRTC_RUNS)
const figures = await measureDirectWebRTC({ runs })
const round = (x: number) => Math.round(x * 10) / 10
console.log(
  `direct WebRTC, browser → browser via a local relay: median ${round(figures.median_ms)} ms over ${runs} dials ` +
    `(min ${round(Math.min(...figures.samples))}, max ${round(Math.max(...figures.samples))}; warm-up ` +
    `${round(figures.warmup_ms)}; ${figures.failures} dials timed out)`
)
console.log(
  JSON.stringify({
    runs,
    median_ms: round(figures.median_ms),
    samples_ms: figures.samples.map(round),
    warmup_ms: round(figures.warmup_ms),
    failures: figures.failures
  })
)
