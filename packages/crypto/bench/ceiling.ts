/**
 * The primitive ceiling: record every backend call one operation makes (with its arguments), then time replaying
 * exactly those calls. The ceiling is what the operation would cost if the protocol added nothing around its
 * primitives (no encoding, copying, serialisation or bookkeeping).
 */
import { type CryptoBackend, publishBundle } from '../src/api.ts'
import { benchSide, establish, measure, oneWay } from './workloads.ts'

type Call = { name: keyof CryptoBackend; args: unknown[] }

function recording(base: CryptoBackend, calls: Call[]): CryptoBackend {
  const out: Record<string, unknown> = { name: base.name }
  for (const key of Object.keys(base) as Array<keyof CryptoBackend>) {
    const fn = base[key]
    if (typeof fn !== 'function') continue
    out[key] = (...args: unknown[]) => {
      if (calls.active) calls.push({ name: key, args })
      return (fn as (...a: unknown[]) => unknown).apply(base, args)
    }
  }
  return out as unknown as CryptoBackend
}

declare global {
  interface Array<T> {
    active?: boolean
  }
}

async function replay(base: CryptoBackend, calls: Call[]): Promise<void> {
  for (const c of calls) {
    try {
      await (base[c.name] as (...a: unknown[]) => unknown).apply(base, c.args)
    } catch {
      // Failed header trials are part of the work too; their error is expected.
    }
  }
}

/** Calls per operation of each workload, then their replay rate. */
export async function primitiveCeiling(
  base: CryptoBackend,
  seconds: number
): Promise<{ encryptDecryptPerSec: number; pingPongPerSec: number; sessionSetupPerSec: number }> {
  const calls: Call[] = []
  const rec = recording(base, calls)
  const a = await benchSide(rec, 'ceil-a')
  const b = await benchSide(rec, 'ceil-b')
  await establish(rec, a, b)
  // The first message after the reply makes B take a DH step; (a) is the steady one-direction case, so skip it.
  await oneWay(a, b)

  calls.length = 0
  calls.active = true
  await oneWay(a, b)
  calls.active = false
  const oneWayCalls = calls.splice(0)

  calls.active = true
  await oneWay(b, a)
  calls.active = false
  const pingCalls = calls.splice(0)

  const x = await benchSide(rec, 'ceil-x')
  const published = await b.manager.updateAccount(async (state) => {
    const p = await publishBundle(rec, state, Date.now(), 86_400_000)
    return { state: p.state, result: p.bundle }
  })
  calls.active = true
  await establish(rec, x, b, published)
  calls.active = false
  // Account creation of the fresh side is not part of the setup workload; one-time prekey making is.
  const setupCalls = calls.splice(0)

  return {
    encryptDecryptPerSec: await measure(seconds, 50, () => replay(base, oneWayCalls)),
    pingPongPerSec: await measure(seconds, 50, () => replay(base, pingCalls)),
    sessionSetupPerSec: await measure(seconds, 5, () => replay(base, setupCalls))
  }
}
