/**
 * `node scripts/netns.ts <command...>` (or `pnpm netns <command...>`): run a command inside a fresh, private network
 * namespace. Chromium never uses the loopback interface for ICE, so WebRTC between real browsers (or a browser and a
 * Node peer) needs a non-loopback interface; this namespace gives it one while every packet stays on the machine:
 *
 * - `lo` up;
 * - a veth pair `parley0` / `parley1` with the private test addresses 10.99.0.1/24 and 10.99.0.2/24, both ends inside
 *   the namespace (nothing is connected to the host's networks);
 * - a default route on `parley0`, so programs that look for "a route out" (ICE gathering) find one.
 *
 * As root it uses `unshare -n`; otherwise `unshare -r -n` (an unprivileged user namespace that maps the caller to
 * root inside it). When neither works the command is not run and the reason is printed: tests that need the
 * namespace are never skipped silently.
 *
 * Inside, `PARLEY_NETNS=1` and `PARLEY_NETNS_ADDRESSES=10.99.0.1,10.99.0.2` tell test/netns-kit.ts where it runs.
 */
import { spawnSync } from 'node:child_process'

/** The two test addresses on the veth pair; a relay in a netns test binds the first one. */
export const NETNS_ADDRESSES = ['10.99.0.1', '10.99.0.2'] as const
/** The prefix length of the test subnet 10.99.0.0/24 (private, never routed off the machine). */
export const NETNS_PREFIX = 24
/** Interface names of the veth pair inside the namespace. */
export const NETNS_LINKS = ['parley0', 'parley1'] as const

/** Shell commands that configure the fresh namespace (run as its root, before the command). */
export function netnsSetupScript(): string {
  const [a, b] = NETNS_ADDRESSES
  const [la, lb] = NETNS_LINKS
  return [
    'set -e',
    'ip link set lo up',
    `ip link add ${la} type veth peer name ${lb}`,
    `ip addr add ${a}/${NETNS_PREFIX} dev ${la}`,
    `ip addr add ${b}/${NETNS_PREFIX} dev ${lb}`,
    `ip link set ${la} up`,
    `ip link set ${lb} up`,
    `ip route add default dev ${la}`
  ].join('\n')
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** The `unshare` arguments that make a new network namespace for this user. */
function unshareArgs(): string[] {
  return isRoot() ? ['-n'] : ['-r', '-n']
}

/** Why the namespace cannot be made here, or undefined when it can (checked by making one and configuring it). */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  const ip = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' })
  if (ip.status !== 0) return "the 'ip' command (iproute2) is missing: apt-get install -y iproute2"
  const probe = spawnSync('unshare', [...unshareArgs(), '--', 'sh', '-c', netnsSetupScript()], { encoding: 'utf8' })
  if (probe.error !== undefined) return `unshare could not start: ${probe.error.message} (install util-linux)`
  if (probe.status !== 0) {
    const detail = `${probe.stderr ?? ''}`.trim().split('\n').slice(-2).join(' / ') || `exit ${probe.status}`
    const hint = isRoot()
      ? 'this container forbids new network namespaces (it needs CAP_SYS_ADMIN and CAP_NET_ADMIN)'
      : 'unprivileged user namespaces are disabled here; run as root or enable kernel.unprivileged_userns_clone'
    return `unshare ${unshareArgs().join(' ')} failed: ${detail} — ${hint}`
  }
  return undefined
}

/**
 * Run `command` inside a fresh namespace with the inherited stdio and environment; returns its exit status. Exits
 * with status 1 and one message naming the reason when the namespace cannot be made.
 */
export function runInNetns(command: string[]): number {
  if (command.length === 0) throw new TypeError('runInNetns: no command given')
  const reason = netnsUnavailableReason()
  if (reason !== undefined) {
    console.error(`Cannot make the network namespace the WebRTC tests need: ${reason}`)
    return 1
  }
  // The setup runs in the same shell that then execs the command, so both see the same namespace.
  const script = `${netnsSetupScript()}\nexec "$@"`
  const r = spawnSync('unshare', [...unshareArgs(), '--', 'sh', '-c', script, 'parley-netns', ...command], {
    stdio: 'inherit',
    env: { ...process.env, PARLEY_NETNS: '1', PARLEY_NETNS_ADDRESSES: NETNS_ADDRESSES.join(',') }
  })
  if (r.error !== undefined) {
    console.error(`netns: ${r.error.message}`)
    return 1
  }
  return r.status ?? 1
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const command = process.argv.slice(2)
  if (command.length === 0) {
    console.error('usage: node scripts/netns.ts <command> [args...]   (runs it in a fresh network namespace)')
    process.exit(2)
  }
  process.exit(runInNetns(command))
}
