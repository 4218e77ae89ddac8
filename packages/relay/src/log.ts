/**
 * Structured logs: one JSON object per line, `{"ts":…,"level":…,"event":…,…fields}`. Callers pass event names and
 * scalar fields only (counts, codes, addresses of the relay itself); never envelope bytes, keys or plaintext.
 */
import type { RelayLog } from './mailbox-types.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFields = Record<string, string | number | boolean>

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 }
const RESERVED = new Set(['ts', 'level', 'event'])

/** A leveled JSON-lines logger. */
export interface RelayLogger {
  readonly level: LogLevel
  debug(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
  /** The mailbox server's sink (its events are logged at `info`). */
  readonly mailbox: RelayLog
}

export interface JsonLoggerOptions {
  /** Lowest level written (default `info`). */
  level?: LogLevel
  /** Where each line goes, without its newline (default: stderr). */
  sink?: (line: string) => void
  now?: () => number
}

/** Creates a JSON-lines logger. A field named ts, level or event is dropped rather than allowed to forge one. */
export function createJsonLogger(options: JsonLoggerOptions = {}): RelayLogger {
  const level = options.level ?? 'info'
  const sink = options.sink ?? ((line: string) => process.stderr.write(`${line}\n`))
  const now = options.now ?? Date.now
  const write =
    (at: Exclude<LogLevel, 'silent'>) =>
    (event: string, fields: LogFields = {}): void => {
      if (RANK[at] < RANK[level]) return
      const line: Record<string, unknown> = { ts: new Date(now()).toISOString(), level: at, event }
      for (const [k, v] of Object.entries(fields)) if (!RESERVED.has(k)) line[k] = v
      try {
        sink(JSON.stringify(line))
      } catch {
        // A broken log sink (closed stderr) must not take the relay down.
      }
    }
  const info = write('info')
  return { level, debug: write('debug'), info, warn: write('warn'), error: write('error'), mailbox: info }
}
