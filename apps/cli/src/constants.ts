/**
 * `parley`'s exit codes (also in `parley --help` and docs/cli-json.md). Every failure prints one line on stderr,
 * `parley: <what is wrong and what to do>`, then exits with one of these.
 */

/** The command did what was asked. */
export const EXIT_OK = 0
/**
 * The command failed: a wrong passphrase, an unknown contact, a refused invite or identity key, a listen address in
 * use, a network or disk error.
 */
export const EXIT_FAILURE = 1
/** Bad usage: an unknown command or flag, a missing argument, a malformed value (a multiaddr that does not parse). */
export const EXIT_USAGE = 2
/**
 * Refused for safety: the profile directory can be read or entered by other users (or belongs to another user).
 * Like ssh with a private key others can read, parley does not use it until its owner fixes the mode.
 */
export const EXIT_UNSAFE_PROFILE = 3

/** Mode bits a profile directory must not have: any access for group or others. */
export const PROFILE_DIR_FORBIDDEN_MODE = 0o077
/** The mode new profile directories get, and the one `chmod` is asked for. */
export const PROFILE_DIR_MODE = 0o700
/** The mode of export files and the control socket. */
export const PRIVATE_FILE_MODE = 0o600
/** Longest JSON line the control socket reads. */
export const MAX_CONTROL_LINE = 1024 * 1024
/**
 * Commands read from stdin (`run --json` lines, interactive lines) and not yet finished, at most: they run one at a
 * time in the order given, and stdin is not read further while this many wait.
 */
export const MAX_QUEUED_COMMANDS = 256
/** Longest command line `run --json` reads from stdin; a longer one is refused whole (`LineTooLong`). */
export const MAX_COMMAND_LINE = MAX_CONTROL_LINE
