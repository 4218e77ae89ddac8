/**
 * The control socket: while `parley run` holds the profile (LevelDB allows one process), other `parley` commands of
 * the same profile talk to it over a Unix socket in the profile directory, one JSON line each way.
 *
 * Who can connect: the socket lives in the profile directory, which is mode 0700 and checked before use
 * (profile.ts), so no other user can reach it at all. The socket itself is also mode 0600 from the instant it exists:
 * `listen` creates the file with the process umask, and a chmod after it would leave a window in which the socket is
 * 0755 or 0777; so the umask is 0177 for the synchronous bind inside `listen` and restored right after (only this
 * thread creates files in that moment; anything created then would only get fewer permissions).
 */
import { chmod, rm } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import type { Messenger } from '@parley/messenger'
import { type Command, CommandError, execute, parseCommand } from './commands.ts'
import { MAX_CONTROL_LINE, PRIVATE_FILE_MODE } from './constants.ts'

/** The umask while the socket is bound: everything but owner read and write masked. */
const SOCKET_UMASK = 0o777 & ~PRIVATE_FILE_MODE

/**
 * What is at `path`: 'live' when a node answers there, 'stale' when a socket file is left by a node that died
 * (killed, power cut): nobody accepts on it, so it is safe to remove; 'none' when there is nothing.
 */
export async function probeControl(path: string): Promise<'live' | 'stale' | 'none'> {
  return new Promise((resolve) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve('live')
    })
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ENOENT' ? 'none' : 'stale'))
  })
}

/** Serves commands on `path` until closed. */
export async function serveControl(path: string, m: Messenger): Promise<Server> {
  const found = await probeControl(path)
  if (found === 'live') {
    throw new CommandError('NodeRunning', `a node of this profile is already running (it answers on ${path})`)
  }
  if (found === 'stale') await rm(path, { force: true })
  const server = createServer((socket) => {
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > MAX_CONTROL_LINE) return socket.destroy()
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
    server.once('listening', () => resolve())
    const previous = process.umask(SOCKET_UMASK)
    try {
      server.listen(path)
    } finally {
      process.umask(previous)
    }
  })
  await chmod(path, PRIVATE_FILE_MODE) // already so; kept in case a platform binds outside `listen`
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
