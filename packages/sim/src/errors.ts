/** Typed errors of @parley/sim: a caller branches on `code`. Texts carry parameter names and values, never keys. */

export type SimErrorCode =
  | 'InvalidParameter'
  | 'UnknownScenario'
  | 'OutputNotEmpty'
  | 'NodeStartFailed'
  | 'RunAborted'
  | 'ConvergedStart'

/** The base class of every simulator error. */
export class SimError extends Error {
  static override name = 'SimError'
  readonly code: SimErrorCode
  constructor(code: SimErrorCode, message: string) {
    super(message)
    this.name = 'SimError'
    this.code = code
  }
}

/** A parameter is out of range or of the wrong type (names the parameter and what it must be). */
export class InvalidParameterError extends SimError {
  static override name = 'InvalidParameterError'
  readonly parameter: string
  constructor(parameter: string, expected: string, got: unknown) {
    super('InvalidParameter', `--${parameter} must be ${expected} (got ${JSON.stringify(got)})`)
    this.name = 'InvalidParameterError'
    this.parameter = parameter
  }
}

/** The scenario named is not registered. */
export class UnknownScenarioError extends SimError {
  static override name = 'UnknownScenarioError'
  constructor(name: string, known: readonly string[]) {
    super('UnknownScenario', `unknown scenario ${JSON.stringify(name)}; known: ${known.join(', ')}`)
    this.name = 'UnknownScenarioError'
  }
}

/** The output directory holds files and --force was not given. */
export class OutputNotEmptyError extends SimError {
  static override name = 'OutputNotEmptyError'
  constructor(dir: string) {
    super('OutputNotEmpty', `output directory ${dir} is not empty (pass --force to overwrite)`)
    this.name = 'OutputNotEmptyError'
  }
}

/** A simulated node or relay did not start. */
export class NodeStartFailedError extends SimError {
  static override name = 'NodeStartFailedError'
  constructor(what: string, cause: unknown) {
    super('NodeStartFailed', `${what} did not start: ${(cause as Error)?.message ?? String(cause)}`)
    this.name = 'NodeStartFailedError'
  }
}

/** The run was aborted through its signal. */
export class RunAbortedError extends SimError {
  static override name = 'RunAbortedError'
  constructor() {
    super('RunAborted', 'the simulation run was aborted')
    this.name = 'RunAbortedError'
  }
}

/**
 * The converged start (converged.ts) could not do a step: a record's holder is down, no holder accepted a record, a
 * routing table has not started.
 */
export class ConvergedStartError extends SimError {
  static override name = 'ConvergedStartError'
  constructor(what: string) {
    super('ConvergedStart', `converged start: ${what}`)
    this.name = 'ConvergedStartError'
  }
}

/** Whether `e` is one of this package's errors. */
export function isSimError(e: unknown): e is SimError {
  return e instanceof SimError
}
