/**
 * scripts/netns.ts, the runner of the WebRTC tests: the command it runs sees a fresh network namespace with exactly
 * lo and the veth pair with the test addresses (none of the host's interfaces), and where the namespace cannot be
 * made it runs nothing and fails with one line naming the reason.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const RUNNER = resolve(import.meta.dirname, '../scripts/netns.ts')
const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

function runner(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [RUNNER, ...args], { encoding: 'utf8', env, timeout: 30_000 })
}

describe('scripts/netns.ts', () => {
  it('runs the command in a namespace with lo and the veth pair 10.99.0.1/24 and 10.99.0.2/24 only', () => {
    const r = runner(['sh', '-c', 'ip -o -4 addr show; ip route show default; echo "netns=$PARLEY_NETNS"'])
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    const addresses = lines.filter((l) => l.includes(' inet ')).map((l) => l.split(/\s+/)[3])
    expect(addresses.sort()).toEqual(['10.99.0.1/24', '10.99.0.2/24', '127.0.0.1/8'])
    expect(r.stdout).toMatch(/^default dev parley0/m)
    expect(r.stdout).toContain('netns=1')
    // The host's own interfaces are not there (the host has addresses outside these three).
    const host = spawnSync('sh', ['-c', 'ip -o -4 addr show'], { encoding: 'utf8' }).stdout
    expect(host).not.toContain('10.99.0.1/24')
  })

  it('passes the exit status of the command through', () => {
    expect(runner(['sh', '-c', 'exit 7']).status).toBe(7)
  })

  it('without ip(8) it runs nothing and fails with one line naming the reason', async () => {
    // A PATH with sh and unshare but no ip.
    const bin = await mkdtemp(join(tmpdir(), 'parley-netns-path-'))
    dirs.push(bin)
    for (const tool of ['sh', 'unshare']) {
      const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
      await symlink(where, join(bin, tool))
    }
    const marker = join(bin, 'ran')
    const r = runner(['sh', '-c', `touch ${marker}`], { ...process.env, PATH: bin })
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/Cannot make the network namespace.*'ip' command \(iproute2\) is missing/)
    expect(spawnSync('sh', ['-c', `test -e ${marker}`]).status).not.toBe(0)
  })

  it('with no command it prints its usage', () => {
    const r = runner([])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/usage: node scripts\/netns.ts <command>/)
  })
})
