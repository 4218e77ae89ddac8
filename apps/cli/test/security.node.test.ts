/**
 * Findings of the outside security review, each checked as a user meets it: real `parley` processes started from a
 * plain shell, real nodes on loopback, real profiles on disk.
 *
 * - terminal spoofing: a stranger's message with line breaks, ESC sequences and bidi overrides is shown on one line,
 *   escaped; `--json` stays exact JSON;
 * - local access: a profile directory others can enter is refused; the control socket is 0600 from the instant it
 *   is bound;
 * - new-user trials: a mistyped invite, an all-zero identity key, `run --json | head -1`, a killed node's socket, a
 *   listen port in use, malformed address flags.
 */

import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { JsonLines, until } from '@parley/test-kit'
import { afterAll, describe, expect, it } from 'vitest'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'security review',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const children: ChildProcessWithoutNullStreams[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `parley` to completion; never throws on a non-zero exit. */
function parley(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(PARLEY, args, { env: { ...ENV, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr })
    })
  })
}

async function ok(args: string[]): Promise<string> {
  const r = await parley(args)
  if (r.code !== 0) throw new Error(`parley ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

/** A new directory of this test (mode 0700, as mkdtemp makes it). */
async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `parley-sec-${name}-`))
  dirs.push(dir)
  return dir
}

async function newProfile(name: string): Promise<string> {
  const dir = await tempDir(name)
  await ok(['init', '--data', dir])
  return dir
}

/** A failure as the user sees it: the exit code and exactly one line on stderr, with no stack trace. */
function expectOneLineFailure(r: Result, code: number, line: RegExp): void {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^parley: /)
  expect(lines[0]).toMatch(line)
}

interface JsonNode {
  dir: string
  child: ChildProcessWithoutNullStreams
  raw: string[]
  events: Array<Record<string, unknown>>
  send(cmd: object): void
  next(pred: (e: Record<string, unknown>) => boolean, what: string, ms?: number): Promise<Record<string, unknown>>
}

/** `parley run --json` on `dir`. */
async function startJson(dir: string, extra: string[] = []): Promise<JsonNode> {
  const child = spawn(PARLEY, ['run', '--json', '--data', dir, ...extra], { env: ENV })
  children.push(child)
  const lines = new JsonLines(child.stdout)
  const node: JsonNode = {
    dir,
    child,
    raw: lines.raw,
    events: lines.events,
    send: (cmd) => child.stdin.write(`${JSON.stringify(cmd)}\n`),
    next: (pred, what, ms) => lines.next(pred, what, ms)
  }
  await node.next((e) => e.event === 'ready', 'ready')
  return node
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

/** A genuine Ed25519 public key (hex), as a contact's identity is: off-curve and torsioned points are refused. */
function genuineKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  return Buffer.from(jwk.x!, 'base64url').toString('hex')
}

/** The characters a terminal acts on (except the line feeds and tabs between lines and fields of the output). */
function terminalControls(text: string, allow = '\n\t'): string[] {
  return [...text].filter((c) => {
    const code = c.codePointAt(0)!
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f)
    const bidiOrBreak = [0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]
    return (control || bidiOrBreak.includes(code)) && !allow.includes(c)
  })
}

const INVITE_PREFIX = 'parley://invite/'

/** An invite link around `body`, with the version-2 checksum (first 4 bytes of SHA-256), written independently. */
function inviteLink(body: Buffer, withChecksum = true): string {
  const sum = createHash('sha256').update(body).digest().subarray(0, 4)
  return INVITE_PREFIX + Buffer.concat(withChecksum ? [body, sum] : [body]).toString('base64url')
}

/** The protobuf of an invite with only `version` and `identity_key`. */
function inviteBody(version: number, identityKey: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x08, version, 0x12, 0x20]), identityKey])
}

describe('finding 9: untrusted text in the terminal', () => {
  it("a stranger's message with a line break, ESC sequences and bidi overrides shows on one line, escaped", async () => {
    const boot = await startJson(await newProfile('boot'))
    const bootstrap = (boot.events[0]!.addresses as string[]).find((a) => !a.includes('/ws'))!

    // B: the interactive chat a person reads.
    const bDir = await newProfile('reader')
    const b = spawn(PARLEY, ['run', '--data', bDir, '--bootstrap', bootstrap], { env: ENV })
    children.push(b)
    let screen = ''
    b.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8')
    })
    await until(() => screen.includes('Invite: parley://invite/'), 30_000, 'the interactive node')
    const bId = (await ok(['id', '--no-qr', '--data', bDir])).match(/^Identity:\s+([0-9a-f]{64})$/m)![1]!

    // A: a stranger to B, sending a forged "line from alice" with terminal escapes.
    const a = await startJson(await newProfile('stranger'), ['--bootstrap', bootstrap])
    const aId = a.events[0]!.identity as string
    a.send({ id: 1, cmd: 'add', contact: bId, name: 'bob' })
    await a.next((e) => e.event === 'result' && e.id === 1, 'add')
    const evil = 'hi\n[alice] send me the code\r\x1b[2J\x1b]0;owned\x07 \u202eevil\u2066 \u2028x\u2029y\x9b31m\x7f\tend'
    let sent = false
    for (let i = 0; i < 20 && !sent; i++) {
      a.send({ id: 100 + i, cmd: 'send', contact: 'bob', text: `${evil} #${i}` })
      const r = await a.next((e) => (e.event === 'result' || e.event === 'error') && e.id === 100 + i, 'send')
      sent = r.event === 'result' && (r.result as { status: string }).status === 'sent'
      if (!sent) await new Promise((res) => setTimeout(res, 1000))
    }
    expect(sent).toBe(true)

    const shown =
      'hi\\n[alice] send me the code\\r\\x1b[2J\\x1b]0;owned\\x07 \\u202eevil\\u2066 \\u2028x\\u2029y\\x9b31m\\x7f\\tend #'
    // A stranger's text is a message request: marked as one, under its identity (never a name it chose).
    await until(() => screen.includes(`[request ${aId.slice(0, 16)}] ${shown}`), 45_000, 'the escaped message at B')
    const lines = screen.split('\n')
    expect(lines.some((l) => l.startsWith('[alice]'))).toBe(false)
    expect(terminalControls(screen)).toEqual([])

    // B adds the stranger (the message request becomes a conversation); the one-shot history, through B's control
    // socket, shows the text the same way: one line per message.
    b.stdin.write(`/add ${aId} carol\n`)
    await until(() => screen.includes('"name": "carol"'), 30_000, 'carol added at B')
    const history = await ok(['history', '--data', bDir, 'carol'])
    for (const line of history.trimEnd().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z [<>] /)
    expect(history).toContain(`< ${shown}`)

    // --json stays exact: the same text comes back from JSON.parse, and the raw line carries no terminal controls.
    a.send({ id: 2, cmd: 'history', contact: 'bob' })
    const h = await a.next((e) => e.event === 'result' && e.id === 2, 'history at A')
    expect((h.result as Array<{ text: string }>).map((m) => m.text)).toContain(`${evil} #0`)
    const rawLine = a.raw.find((l) => l.includes('"id":2'))!
    expect(rawLine).toContain('\\u202e')
    expect(terminalControls(rawLine, '')).toEqual([])

    b.stdin.write('/quit\n')
    expect(await exited(b)).toBe(0)
  })

  it('contact names with control and bidi characters are escaped in add and contacts output', async () => {
    const dir = await newProfile('names')
    const key = genuineKey()
    const name = 'eve\n[bob] hi\x1b[31m\u202e'
    const added = await ok(['add', key, '--name', name, '--data', dir])
    expect(JSON.parse(added).name).toBe(name)
    expect(terminalControls(added)).toEqual([])
    const contacts = await ok(['contacts', '--data', dir])
    expect(contacts).toBe(`eve\\n[bob] hi\\x1b[31m\\u202e\t${key}\n`)
  })
})

describe('finding 10: the profile directory and the control socket are private', () => {
  it('a profile directory others can enter is refused with exit code 3 and the chmod to run; new ones are 0700', async () => {
    const dir = await newProfile('mode')
    await chmod(dir, 0o755)
    for (const args of [['contacts'], ['id', '--no-qr'], ['run', '--json'], ['export', join(dir, '..', 'x')]]) {
      const r = await parley([...args, '--data', dir])
      expectOneLineFailure(
        r,
        3,
        new RegExp(`${dir} is accessible by other users \\(mode 0755\\): run 'chmod 700 ${dir}'`)
      )
    }
    await chmod(dir, 0o750)
    expectOneLineFailure(await parley(['contacts', '--data', dir]), 3, /mode 0750/)
    await chmod(dir, 0o700)
    expect((await parley(['contacts', '--data', dir])).code).toBe(0)

    // An existing empty directory others can enter is not used for a new profile either.
    const open = join(await tempDir('open'), 'profile')
    await mkdir(open, { mode: 0o777 })
    await chmod(open, 0o777)
    expectOneLineFailure(await parley(['init', '--data', open]), 3, /mode 0777/)
    expect(existsSync(join(open, 'profile'))).toBe(false)

    // A new one is made 0700, even under umask 000.
    const fresh = join(await tempDir('umask'), 'a', 'b')
    const code = await new Promise<number | null>((done) => {
      const c = spawn('/bin/sh', ['-c', 'umask 000; exec "$0" init --data "$1"', PARLEY, fresh], { env: ENV })
      c.on('exit', done)
    })
    expect(code).toBe(0)
    expect((await stat(fresh)).mode & 0o777).toBe(0o700)
  })

  it('the control socket is 0600 at the instant it is bound, not only after a chmod', async () => {
    // A preload in the real `parley run` process records the socket's mode right after `listen` returns (the bind is
    // synchronous inside it), before anything else runs. Under umask 000 an unprotected bind gives 0777.
    const dir = await newProfile('socket')
    const log = join(await tempDir('hook'), 'modes.log')
    const hook = join(dirname(log), 'hook.cjs')
    await writeFile(
      hook,
      `const net = require('node:net'); const fs = require('node:fs')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const r = listen.apply(this, args)
  if (typeof args[0] === 'string') fs.appendFileSync(${JSON.stringify(log)}, (fs.lstatSync(args[0]).mode & 0o777).toString(8) + '\\n')
  return r
}
`
    )
    const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$0" run --json --data "$1"', PARLEY, dir], {
      env: { ...ENV, NODE_OPTIONS: `--require ${hook}` }
    })
    children.push(child)
    await until(() => existsSync(log), 30_000, 'the bind')
    expect((await readFile(log, 'utf8')).trim()).toBe('600')
    expect((await stat(join(dir, 'control.sock'))).mode & 0o777).toBe(0o600)
    child.stdin.end()
    expect(await exited(child)).toBe(0)
  })
})

describe('finding 12: what a new user runs into', () => {
  it('an invite with one character changed is refused; an all-zero or small-order identity key is never a contact', async () => {
    const dir = await newProfile('invites')
    const other = await newProfile('inviter')
    const invite = (await ok(['id', '--no-qr', '--data', other])).match(/^Invite:\s+(\S+)$/m)![1]!
    const identity = (await ok(['id', '--no-qr', '--data', other])).match(/^Identity:\s+([0-9a-f]{64})$/m)![1]!
    const at = INVITE_PREFIX.length + 20
    const typo = invite.slice(0, at) + (invite[at] === 'A' ? 'B' : 'A') + invite.slice(at + 1)
    expectOneLineFailure(await parley(['add', typo, '--data', dir]), 1, /checksum does not match.*\(InviteChecksum\)$/)

    // The format before checksums (version 1) is refused too: a typo in it could not be told apart.
    const old = inviteLink(inviteBody(1, Buffer.from(identity, 'hex')), false)
    expectOneLineFailure(
      await parley(['add', old, '--data', dir]),
      1,
      /ask your contact for a new invite.*OutdatedInvite/
    )

    const zero = Buffer.alloc(32)
    expectOneLineFailure(await parley(['add', '00'.repeat(32), '--data', dir]), 1, /identity key: low-order point/)
    const neutral = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])
    expectOneLineFailure(await parley(['add', neutral.toString('hex'), '--data', dir]), 1, /low-order point/)
    expectOneLineFailure(await parley(['add', 'ab'.repeat(32), '--data', dir]), 1, /not a valid Ed25519 point/)
    expectOneLineFailure(
      await parley(['add', inviteLink(inviteBody(2, zero)), '--data', dir]),
      1,
      /identityKey: not a valid Ed25519 public key/
    )
    expect(await ok(['contacts', '--data', dir])).toBe('')

    // The invite as given works.
    expect(JSON.parse(await ok(['add', invite, '--name', 'friend', '--data', dir])).contact).toBe(identity)
  })

  it('run --json | head -1 stops the node cleanly when the reader goes away: exit 0, socket removed', async () => {
    const dir = await newProfile('epipe')
    const child = spawn(
      '/bin/bash',
      ['-c', '"$0" run --json --data "$1" | head -1; echo "parley exited $' + '{PIPESTATUS[0]}" >&2', PARLEY, dir],
      { env: ENV }
    )
    children.push(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    await until(() => out.includes('"event":"ready"'), 30_000, 'the first line')
    await new Promise((r) => setTimeout(r, 500)) // head has printed its line and exited
    // The next event the node writes meets a closed pipe.
    child.stdin.write('{"id":1,"cmd":"id"}\n')
    expect(await exited(child)).toBe(0)
    expect(err).toContain('parley exited 0')
    expect(err).not.toMatch(/EPIPE|\n\s+at /)
    expect(existsSync(join(dir, 'control.sock'))).toBe(false)
  })

  it("a killed node's control socket does not block the next run; a second run of a running profile says why", async () => {
    const dir = await newProfile('stale')
    const first = await startJson(dir)
    first.child.kill('SIGKILL')
    await exited(first.child)
    expect(existsSync(join(dir, 'control.sock'))).toBe(true)
    expect((await parley(['contacts', '--data', dir])).code).toBe(0)
    const second = await startJson(dir)
    expectOneLineFailure(
      await parley(['run', '--json', '--data', dir]),
      1,
      /the profile at .* is in use by another parley process/
    )
    second.child.stdin.end()
    expect(await exited(second.child)).toBe(0)
    expect(existsSync(join(dir, 'control.sock'))).toBe(false)
  })

  it('a listen port in use is one line naming --listen and the address, exit code 1', async () => {
    const dir = await newProfile('port')
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as { port: number }).port
    try {
      const addr = `/ip4/127.0.0.1/tcp/${port}`
      const r = await parley(['run', '--json', '--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', addr])
      expectOneLineFailure(r, 1, new RegExp(`--listen ${addr}: the address is in use .*\\(EADDRINUSE\\)`))
      expect(existsSync(join(dir, 'control.sock'))).toBe(false)
    } finally {
      blocker.close()
    }
  })

  it('a malformed --listen, --bootstrap or --relay is one line naming the flag, exit code 2', async () => {
    const dir = await newProfile('flags')
    const cases: Array<[string[], RegExp]> = [
      [['run', '--listen', 'garbage'], /^parley: --listen "garbage": not a multiaddr/],
      [
        ['run', '--bootstrap', '/ip4/127.0.0.1/tcp/1'],
        /^parley: --bootstrap "\/ip4\/127\.0\.0\.1\/tcp\/1": it names no peer/
      ],
      [
        ['send', 'x', 'y', '--relay', '/ip4/300.0.0.1/tcp/1/p2p/x'],
        /^parley: --relay "\/ip4\/300\.0\.0\.1\/tcp\/1\/p2p\/x": not a multiaddr/
      ],
      [['run', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id'], /^parley: --bootstrap .*: not a multiaddr/],
      [['run', '--frobnicate'], /^parley: Unknown option '--frobnicate'/],
      [['add'], /^parley: add needs an invite link or identity key/]
    ]
    for (const [args, line] of cases) expectOneLineFailure(await parley([...args, '--data', dir]), 2, line)
    const help = await ok(['--help'])
    expect(help).toMatch(/Exit codes:\n {2}0 {2}done\n {2}1 .*\n {2}2 {2}bad usage.*\n {2}3 {2}the profile directory/)
  })
})
