/**
 * The control socket: while `parley run` holds the profile (LevelDB allows one process), other `parley` commands of
 * the same profile talk to it over a Unix socket in the profile directory (mode 0600), one JSON line each way.
 */
import { chmod, rm } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import type { Messenger } from '@parley/messenger'
import { type Command, CommandError, execute, parseCommand } from './commands.ts'

const MAX_LINE = 1024 * 1024

/** Serves commands on `path` until closed. */
export async function serveControl(path: string, m: Messenger): Promise<Server> {
  await rm(path, { force: true })
  const server = createServer((socket) => {
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > MAX_LINE) return socket.destroy()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      buf = ''
      void (async () => {
        try {
          const result = await execute(m, parseCommand(JSON.parse(line)))
          socket.end(`${JSON.stringify({ ok: true, result })}\n`)
        } catch (e) {
          const err = e as { code?: string; message?: string }
          socket.end(`${JSON.stringify({ ok: false, code: err.code ?? 'Error', message: err.message ?? String(e) })}\n`)
        }
      })()
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  await chmod(path, 0o600)
  return server
}

/** Sends one command to a running node; undefined when none listens on `path`. */
export async function askRunning(
  path: string,
  command: Command,
  timeoutMs = 60_000
): Promise<{ result: unknown } | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    let buf = ''
    const timer = setTimeout(() => socket.destroy(new Error('the running node did not answer in time')), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(command)}\n`))
    socket.on('data', (chunk: string) => {
      buf += chunk
    })
    socket.on('end', () => {
      clearTimeout(timer)
      try {
        const reply = JSON.parse(buf) as { ok: boolean; result?: unknown; code?: string; message?: string }
        if (reply.ok) resolve({ result: reply.result })
        else reject(new CommandError(reply.code ?? 'Error', reply.message ?? 'failed'))
      } catch {
        reject(new CommandError('ControlProtocol', 'unreadable answer from the running node'))
      }
    })
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') resolve(undefined)
      else reject(e)
    })
  })
}
