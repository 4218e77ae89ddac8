/** JsonLines on a real child process: events as they come, next() for one already printed or still to come. */
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { JsonLines, UntilTimeoutError } from '../src/index.ts'

/** A child that prints `{"n":1}` at once, waits for a line on stdin, then prints `{"n":2}` and exits. */
function child() {
  const script =
    "console.log(JSON.stringify({ n: 1 })); process.stdin.once('data', () => { console.log(JSON.stringify({ n: 2 })); process.exit(0) })"
  return spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
}

describe('JsonLines', () => {
  it('finds an event already printed and one still to come, keeping raw and parsed lines in order', async () => {
    const p = child()
    const lines = new JsonLines<{ n: number }>(p.stdout)
    expect(await lines.next((e) => e.n === 1, 'the first event', 10_000)).toEqual({ n: 1 })
    const second = lines.next((e) => e.n === 2, 'the second event', 10_000)
    p.stdin.write('go\n')
    expect(await second).toEqual({ n: 2 })
    expect(lines.raw).toEqual(['{"n":1}', '{"n":2}'])
    expect(lines.events).toEqual([{ n: 1 }, { n: 2 }])
  })

  it('times out with UntilTimeoutError naming the event and listing the events seen', async () => {
    const p = child()
    const lines = new JsonLines<{ n: number }>(p.stdout)
    try {
      await lines.next((e) => e.n === 1, 'the first event', 10_000)
      const err = await lines.next((e) => e.n === 3, 'a third event', 200).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UntilTimeoutError)
      expect((err as UntilTimeoutError).message).toBe(
        'timed out after 200 ms waiting for a third event; events: [{"n":1}]'
      )
    } finally {
      p.kill()
    }
  })
})
