/**
 * Build-if-stale for the pages tests serve (the web app's dist, the WebRTC harness): a build is fresh when its output
 * is at least as new as every source file. Node only; `node:fs` is loaded when called, so browser tests may import
 * this package.
 */
import type * as Fs from 'node:fs'
import type * as Path from 'node:path'

const fs = () => process.getBuiltinModule('node:fs') as typeof Fs
const path = () => process.getBuiltinModule('node:path') as typeof Path

/** The newest modification time (ms) of any file at or below `paths` (directories walked); 0 when none exists. */
export function newestMtimeMs(paths: readonly string[]): number {
  const { existsSync, readdirSync, statSync } = fs()
  const { join } = path()
  const walk = (p: string): number => {
    if (!existsSync(p)) return 0
    const info = statSync(p)
    if (!info.isDirectory()) return info.mtimeMs
    return Math.max(0, ...readdirSync(p).map((e) => walk(join(p, e))))
  }
  return Math.max(0, ...paths.map(walk))
}

/** Whether `output` exists and is at least as new as every file at or below `sources`. */
export function isBuiltFrom(output: string, sources: readonly string[]): boolean {
  const info = fs().statSync(output, { throwIfNoEntry: false })
  return info !== undefined && info.mtimeMs >= newestMtimeMs(sources)
}
