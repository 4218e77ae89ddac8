/** parley-relay's errors. */

/** A setting has a bad value, or the command line or config file cannot be read. Exit code 2. */
export class ConfigError extends Error {
  static override readonly name = 'ConfigError'
  readonly code = 'InvalidConfig'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
