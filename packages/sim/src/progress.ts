/** A progress bar on a TTY-or-not stream (stderr): one line, redrawn at most every PROGRESS_REDRAW_MS. */
import { PROGRESS_BAR_WIDTH } from './constants.ts'

const PROGRESS_REDRAW_MS = 200
/** Without a TTY (a log file), a line at each phase change, at its end and at most this often in between. */
const PROGRESS_LOG_MS = 15_000

/** Returns an onProgress callback drawing `[#####.....] phase done/total` on `stream`. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): {
  update: (phase: string, done: number, total: number) => void
  end: () => void
} {
  let last = 0
  let lastPhase = ''
  let drawn = false
  let logged = 0
  const t0 = performance.now()
  return {
    update(phase, done, total) {
      const now = performance.now()
      if (phase === lastPhase && done < total && now - last < PROGRESS_REDRAW_MS) return
      last = now
      const share = total > 0 ? Math.min(1, done / total) : 1
      const full = Math.round(share * PROGRESS_BAR_WIDTH)
      const bar = `[${'#'.repeat(full)}${'.'.repeat(PROGRESS_BAR_WIDTH - full)}]`
      const line = `${bar} ${phase} ${done}/${total}  ${((now - t0) / 1000).toFixed(0)} s`
      if (stream.isTTY) stream.write(`\r${line.padEnd(78)}`)
      else if (phase !== lastPhase || done === total || now - logged >= PROGRESS_LOG_MS) {
        stream.write(`${line}\n`)
        logged = now
      }
      lastPhase = phase
      drawn = true
    },
    end() {
      if (drawn && stream.isTTY) stream.write('\n')
    }
  }
}
