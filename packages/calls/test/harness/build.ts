/**
 * Builds the harness page with Vite (the package's browser entry, its SFrame worker and the wire formats bundled as an
 * app would bundle them) and serves it on 127.0.0.1 (a secure context, so getUserMedia works; ICE still uses the
 * namespace's veth addresses, since Chromium ignores loopback for ICE).
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' }

export interface Harness {
  readonly url: string
  stop(): Promise<void>
}

export async function buildHarness(): Promise<Harness> {
  const out = await mkdtemp(join(tmpdir(), 'parley-calls-harness-'))
  await build({
    root: fileURLToPath(new URL('.', import.meta.url)),
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true, minify: false, target: 'es2024' },
    worker: { format: 'es' }
  })
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const file = join(out, path === '/' ? 'index.html' : path)
    if (!file.startsWith(out)) {
      res.writeHead(404).end()
      return
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end()
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      await new Promise((r) => server.close(r))
      await rm(out, { recursive: true, force: true })
    }
  }
}
