/** Bad parameters give a clear typed error and write nothing; every limit is named and checked at its boundary. */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  checkCommon,
  InvalidParameterError,
  isSimError,
  MAX_DURATION_S,
  MAX_LOSS,
  MAX_NODES,
  MAX_RELAYS,
  MIN_NODES,
  OutputNotEmptyError,
  prepare,
  runSimulation,
  UnknownScenarioError
} from '../src/index.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function freshParent(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sim-params-'))
  dirs.push(d)
  return d
}

async function failsAndWritesNothing(params: Record<string, unknown>, scenario = 'delivery'): Promise<unknown> {
  const out = join(await freshParent(), 'out')
  const err = await runSimulation({ scenario, params, out }).catch((e: unknown) => e)
  await expect(stat(out)).rejects.toThrow()
  return err
}

describe('bad parameters', () => {
  it('negative nodes: InvalidParameter naming --nodes, nothing written', async () => {
    const err = await failsAndWritesNothing({ nodes: -3, seed: '1' })
    expect(err).toBeInstanceOf(InvalidParameterError)
    expect((err as InvalidParameterError).code).toBe('InvalidParameter')
    expect((err as InvalidParameterError).parameter).toBe('nodes')
    expect((err as Error).message).toContain('--nodes')
  })

  it('unknown scenario: UnknownScenario listing the known ones, nothing written', async () => {
    const err = await failsAndWritesNothing({ nodes: 5 }, 'gossip-storm')
    expect(err).toBeInstanceOf(UnknownScenarioError)
    expect((err as Error).message).toContain('dht-lookup')
  })

  it('loss above 1: InvalidParameter naming --loss, nothing written', async () => {
    const err = await failsAndWritesNothing({ nodes: 5, loss: 1.5 })
    expect(isSimError(err) && err.code).toBe('InvalidParameter')
    expect((err as InvalidParameterError).parameter).toBe('loss')
  })

  it('an unknown parameter is refused rather than ignored', async () => {
    const err = await failsAndWritesNothing({ nodes: 5, lossy: 0.1 })
    expect((err as InvalidParameterError).parameter).toBe('lossy')
  })

  it('a non-empty --out without --force: OutputNotEmpty, the directory untouched', async () => {
    const out = await freshParent()
    await writeFile(join(out, 'mine.txt'), 'keep')
    const err = await runSimulation({ scenario: 'delivery', params: { nodes: 5 }, out }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OutputNotEmptyError)
    expect((err as OutputNotEmptyError).code).toBe('OutputNotEmpty')
    expect(await readdir(out)).toEqual(['mine.txt'])
  })

  it('--out naming a file is refused', async () => {
    const parent = await freshParent()
    await mkdir(join(parent, 'd'))
    await writeFile(join(parent, 'f'), 'x')
    const err = await runSimulation({
      scenario: 'delivery',
      params: { nodes: 5 },
      out: join(parent, 'f'),
      force: true
    }).catch((e: unknown) => e)
    expect((err as InvalidParameterError).parameter).toBe('out')
  })

  it('scenario parameters are checked too (relay-failure --kill must be an integer)', () => {
    expect(() => prepare({ scenario: 'relay-failure', params: { nodes: 5, kill: 1.5 } })).toThrow(/--kill/)
  })
})

describe('named limits', () => {
  it('nodes: MIN_NODES and MAX_NODES are the bounds', () => {
    expect(checkCommon({ nodes: MIN_NODES }).nodes).toBe(MIN_NODES)
    expect(() => checkCommon({ nodes: MIN_NODES - 1 })).toThrow(InvalidParameterError)
    expect(checkCommon({ nodes: MAX_NODES }).nodes).toBe(MAX_NODES)
    expect(() => checkCommon({ nodes: MAX_NODES + 1 })).toThrow(InvalidParameterError)
    expect(() => checkCommon({ nodes: 2.5 })).toThrow(/integer/)
  })

  it('loss: MAX_LOSS is allowed, 1 is not (a link that loses everything is a partition)', () => {
    expect(checkCommon({ nodes: 5, loss: MAX_LOSS }).loss).toBe(MAX_LOSS)
    expect(() => checkCommon({ nodes: 5, loss: 1 })).toThrow(/--loss/)
    expect(() => checkCommon({ nodes: 5, loss: -0.1 })).toThrow(/--loss/)
  })

  it('duration and relays: MAX_DURATION_S and MAX_RELAYS are the bounds', () => {
    expect(() => checkCommon({ nodes: 5, duration: MAX_DURATION_S + 1 })).toThrow(/--duration/)
    expect(() => checkCommon({ nodes: 5, duration: 0 })).toThrow(/--duration/)
    expect(() => checkCommon({ nodes: 5, relays: MAX_RELAYS + 1 })).toThrow(/--relays/)
  })

  it('CLI strings are parsed as numbers', () => {
    const p = checkCommon({ nodes: '12', loss: '0.25', seed: 'abc' })
    expect(p).toMatchObject({ nodes: 12, loss: 0.25, seed: 'abc' })
    expect(() => checkCommon({ nodes: 'many' })).toThrow(/--nodes/)
  })
})
