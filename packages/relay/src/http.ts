/**
 * The relay's HTTP side (node:http): GET /metrics (Prometheus text), GET /healthz (JSON, 503 while shutting down),
 * GET /parley.json (what a web app served from here connects to: this relay's WebSocket addresses and the STUN/TURN
 * servers its operator runs, with fresh TURN credentials), and, when a web directory is configured, its static files. Path resolution refuses anything outside the web
 * directory: `..` segments, encoded separators, dot-files and symlinks that lead out.
 */
import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import { HTTP_HEADERS_TIMEOUT_MS, HTTP_SHUTDOWN_GRACE_MS } from './constants.ts'
import type { AdvertisedIceServer } from './ice.ts'
import type { RelayLogger } from './log.ts'

/** Content types of what a web build holds; anything else is served as bytes. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2'
}

/** The body of GET /parley.json. */
export interface ParleyJson {
  /** This relay's WebSocket multiaddrs (ws or wss), each ending in /p2p/<its peer id>. */
  relays: string[]
  /** STUN/TURN servers for WebRTC (TURN with time-limited credentials; never the TURN secret). */
  iceServers: AdvertisedIceServer[]
}

/** The well-known path of the relay's client configuration. */
export const PARLEY_JSON_PATH = '/parley.json'

export interface HttpHandlers {
  health(): { peerId: string; connections: number }
  parleyJson(): ParleyJson
  metrics(): Promise<{ contentType: string; body: string }>
}

export interface RelayHttpOptions {
  host: string
  port: number
  webDir?: string | undefined
  log: RelayLogger
}

/** The running HTTP server. */
export interface RelayHttp {
  readonly url: string
  /** From now on /healthz answers 503 (the relay is going away); everything else still works. */
  setShuttingDown(): void
  /** Stops accepting, lets open requests finish (a short grace), then closes every socket. */
  close(): Promise<void>
}

/** Resolves a URL path to a regular file inside `root` (a realpath), or undefined if there is none or it is refused. */
export async function resolveStaticPath(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return undefined
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined
  const segments = decoded.split('/').filter((s) => s !== '')
  // `..` and dot-files (.env, .git) are never served, whatever the build put in the directory.
  if (segments.some((s) => s.startsWith('.'))) return undefined
  const inside = (p: string) => p === root || p.startsWith(root + sep)
  let candidate = resolve(root, ...segments)
  if (!inside(candidate)) return undefined
  try {
    candidate = await realpath(candidate)
    if (!inside(candidate)) return undefined
    let info = await stat(candidate)
    if (info.isDirectory()) {
      candidate = await realpath(join(candidate, 'index.html'))
      if (!inside(candidate)) return undefined
      info = await stat(candidate)
    }
    return info.isFile() ? candidate : undefined
  } catch {
    return undefined
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff'
  })
  res.end(head ? undefined : body)
}

/** Starts the HTTP server; resolves once it listens. */
export async function startRelayHttp(options: RelayHttpOptions, handlers: HttpHandlers): Promise<RelayHttp> {
  const webRoot = options.webDir === undefined ? undefined : await realpath(resolve(options.webDir))
  let shuttingDown = false

  async function serveStatic(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): Promise<void> {
    const file = webRoot === undefined ? undefined : await resolveStaticPath(webRoot, path)
    if (file === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head)
      return
    }
    const info = await stat(file)
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
    res.writeHead(200, {
      'content-type': type,
      'content-length': info.size,
      // HTML names the hashed assets: always revalidate it; the assets themselves may be cached.
      'cache-control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=3600',
      'x-content-type-options': 'nosniff'
    })
    if (head) {
      res.end()
      return
    }
    const stream = createReadStream(file)
    stream.on('error', () => res.destroy())
    req.on('close', () => stream.destroy())
    stream.pipe(res)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === 'HEAD'
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD')
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false)
      return
    }
    // The raw path: URL parsing would silently fold `..`; resolveStaticPath refuses it instead.
    const path = (req.url ?? '/').split('?')[0]!.split('#')[0]!
    if (!path.startsWith('/')) {
      send(res, 400, 'text/plain; charset=utf-8', 'bad request\n', head)
      return
    }
    if (path === '/healthz') {
      const { peerId, connections } = handlers.health()
      const status = shuttingDown ? 'shutting-down' : 'ok'
      send(res, shuttingDown ? 503 : 200, 'application/json', JSON.stringify({ status, peerId, connections }), head)
      return
    }
    if (path === PARLEY_JSON_PATH) {
      // Any origin may read it (an app on another static host uses this relay); credentials are per request.
      res.setHeader('access-control-allow-origin', '*')
      send(res, 200, 'application/json', JSON.stringify(handlers.parleyJson()), head)
      return
    }
    if (path === '/metrics') {
      const { contentType, body } = await handlers.metrics()
      send(res, 200, contentType, body, head)
      return
    }
    await serveStatic(req, res, path, head)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.log.error('http.error', { error: err instanceof Error ? err.name : 'unknown' })
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', false)
      else res.destroy()
    })
  })
  server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS
  server.requestTimeout = 2 * HTTP_HEADERS_TIMEOUT_MS

  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(options.port, options.host, () => {
      server.off('error', fail)
      ok()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`

  return {
    url,
    setShuttingDown: () => {
      shuttingDown = true
    },
    close: async () => {
      shuttingDown = true
      const closed = new Promise<void>((ok) => server.close(() => ok()))
      server.closeIdleConnections()
      const grace = setTimeout(() => server.closeAllConnections(), HTTP_SHUTDOWN_GRACE_MS)
      await closed
      clearTimeout(grace)
    }
  }
}
