import type { LRUCache } from 'lru-cache';
import { clientCounterKey } from './client-block.js';
import { invalidOption } from './errors.js';
import { boundedLru, NO_LRU_CALL_OPTIONS } from './lru-options.js';
import { assertInteger, knownOptions, type UnknownNameShown } from './options.js';

/**
 * Limits on failed attempts, counted in fixed windows. Only failures that cost an Argon2 run
 * count (a secret that did not match a real row's hash): unknown lookup ids, malformed keys
 * and a wrong key already in the verification memo cost nothing and are not counted.
 */
export interface AttemptThrottleOptions {
  /**
   * Failed attempts against one lookup id per window before further attempts get 429. Lookup
   * ids are public, and a real key holder never fails against their own id (the checksum
   * catches typos, a regenerated key has a new id), so a low number costs them nothing.
   * @default 10
   */
  maxFailuresPerKey?: number | undefined;
  /**
   * Failed attempts from one client address per window before that address gets 429 for keys
   * not yet verified. High enough for a NAT or office of honest clients with stale keys.
   * @default 100
   */
  maxFailuresPerClient?: number | undefined;
  /** Length of a counting window. @default 900000 (15 minutes) */
  windowMs?: number | undefined;
  /**
   * Most lookup ids and most client addresses tracked (each, least recently used dropped
   * first), so a flood of addresses cannot grow memory; about 150 bytes per entry.
   * @default 10000
   */
  maxTracked?: number | undefined;
  /**
   * The leading bits of a global IPv6 address that name one client: the usual /64 a
   * subscriber is given, so rotating addresses within it gains nothing. Set 128 where your
   * clients each have one address out of a shared /64 (some cloud hosts), 56 or 48 where
   * whole blocks go to one customer. From 32 to 128.
   * @default 64
   */
  ipv6PrefixLength?: number | undefined;
}

/**
 * Every limit of {@link AttemptThrottleOptions}, set. Spelt out rather than
 * `Required<AttemptThrottleOptions>`, which keeps `| undefined` under exactOptionalPropertyTypes.
 */
export type AttemptThrottleLimits = Record<keyof AttemptThrottleOptions, number>;

/**
 * The limits of a throttle that counts per client address only, as the Basic-auth receivers'
 * does: every limit but the per-lookup-id one.
 */
export type ClientThrottleLimits = Omit<AttemptThrottleLimits, 'maxFailuresPerKey'>;

/** The defaults, frozen; see {@link AttemptThrottleOptions} for the reasoning. */
export const DEFAULT_ATTEMPT_THROTTLE: Readonly<AttemptThrottleLimits> = Object.freeze({
  maxFailuresPerKey: 10,
  maxFailuresPerClient: 100,
  windowMs: 15 * 60_000,
  maxTracked: 10_000,
  ipv6PrefixLength: 64,
});

/** The range each limit must be in: [least, most]. */
const LIMIT_RANGES: Readonly<Record<keyof AttemptThrottleLimits, readonly [number, number]>> = {
  maxFailuresPerKey: [1, 1_000_000],
  maxFailuresPerClient: [1, 1_000_000],
  windowMs: [1_000, 24 * 3_600_000],
  maxTracked: [1, 10_000_000],
  ipv6PrefixLength: [32, 128],
};

/** The counter every client without a known address shares (see #counterKeyOf). */
const UNKNOWN_CLIENT = '';

interface Window {
  start: number;
  failures: number;
}

/**
 * Checks the `throttle` option once, at the factory.
 *
 * @param value - the option: an object, `false` to switch throttling off, or undefined.
 * @param factory - the factory it was given to; messages start with it.
 * @param defaults - the limits the option may set and their defaults, in the order they are
 *   checked: {@link DEFAULT_ATTEMPT_THROTTLE} unless given (the receivers give theirs, which
 *   have no per-key limit, so `maxFailuresPerKey` is an unknown option there).
 * @param naming - whether a message repeats an unknown name: the receivers' options hold a
 *   password, so theirs withhold it, as their other unknown names are.
 * @returns the limits with defaults applied, or false.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` naming the bad limit.
 * @example
 * ```ts
 * resolveThrottleOptions({ maxFailuresPerKey: 5 }, 'createApiKeyAuth'); // { maxFailuresPerKey: 5, ... }
 * ```
 */
export function resolveThrottleOptions(
  value: unknown,
  factory: string,
): AttemptThrottleLimits | false;
export function resolveThrottleOptions<Limits extends ClientThrottleLimits>(
  value: unknown,
  factory: string,
  defaults: Readonly<Limits>,
  naming?: UnknownNameShown,
): Limits | false;
export function resolveThrottleOptions(
  value: unknown,
  factory: string,
  defaults: Readonly<ClientThrottleLimits> = DEFAULT_ATTEMPT_THROTTLE,
  naming: UnknownNameShown = 'shown',
): ClientThrottleLimits | false {
  if (value === false) return false;
  const given = value ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    invalidOption(`${factory}: "throttle" must be an object or false.`);
  }
  const names = Object.keys(defaults) as (keyof AttemptThrottleLimits)[];
  const limits = { ...defaults, ...stripUndefined(knownOptions(given as AttemptThrottleOptions, names, factory, { within: 'throttle', naming })) };
  for (const name of names) assertInteger(limits[name] as number, `throttle.${name}`, ...LIMIT_RANGES[name], factory);
  return limits;
}

/** One attempt as the throttle sees it. */
export interface Attempt {
  lookupId: string;
  /** The client's address, if the app can tell it. */
  client: string | undefined;
  /**
   * What tells presented keys apart: identical keys in flight share one Argon2 run and count
   * once. The authenticator gives the key's memo key (an HMAC), so the throttle never holds a
   * key; without a memo, the key itself, held only while its check runs.
   */
  credential: string;
}

/**
 * Counts failed attempts per lookup id and per client address, in fixed windows, in bounded
 * memory. Attempts still being verified count too (each distinct key once), so a burst of
 * forgeries sent all at once cannot start more Argon2 runs than the limit allows. The
 * per-lookup-id limit applies to suspect clients only (see `#suspicion`), so forgeries from
 * one address never lock out the key's holder at another. Per process: several gateway
 * instances each count their own.
 *
 * Built with {@link ClientThrottleLimits} (no `maxFailuresPerKey`), it counts per client
 * address only: the Basic-auth receivers' throttle, which uses {@link clientWait} and
 * {@link recordClientFailure}.
 *
 * > [!NOTE]
 * > When more than `maxTracked` ids or addresses fail within a window, the least recently
 * > failing ones are forgotten, so an attacker who spreads over more addresses than that gets
 * > a fresh allowance on the forgotten ones. The memo and the bounded Argon2 queue (503 when
 * > full) still bound the cost.
 */
export class AttemptThrottle {
  readonly #limits: ClientThrottleLimits;
  readonly #now: () => number;
  // Absent from a throttle that counts per client only, which so holds no memory for it.
  readonly #perKey: { max: number; windows: LRUCache<string, Window> } | undefined;
  readonly #byClient: LRUCache<string, Window>;
  // Attempts under verification: id -> key -> how many requests carry it. Entries live only
  // while a request is in the pipeline (as long as the request's own headers hold the key),
  // so their number is bounded by the open requests.
  readonly #keyInFlight = new Map<string, Map<string, number>>();
  readonly #clientInFlight = new Map<string, Map<string, number>>();

  /**
   * @param limits - checked limits from {@link resolveThrottleOptions}; without
   *   `maxFailuresPerKey`, lookup ids are not counted.
   * @param now - the current time in milliseconds.
   */
  constructor(limits: AttemptThrottleLimits | ClientThrottleLimits, now: () => number) {
    this.#limits = limits;
    this.#now = now;
    // Own fields only: a `maxFailuresPerKey` planted on Object.prototype counts for nothing.
    this.#perKey = Object.hasOwn(limits, 'maxFailuresPerKey')
      ? {
          max: (limits as AttemptThrottleLimits).maxFailuresPerKey,
          windows: boundedLru<Window>({ max: limits.maxTracked }),
        }
      : undefined;
    this.#byClient = boundedLru<Window>({ max: limits.maxTracked });
  }

  /**
   * Says whether an attempt may be verified now and, when it may, registers it as in flight.
   * Every call that returns 0 must be paired with {@link leave}, whatever the outcome; a
   * refused attempt is not registered (it will not be verified).
   *
   * @param attempt - lookup id, client address and presented key.
   * @returns seconds to wait before retrying, as {@link waitFor} gives them, or 0 when the
   *   attempt may be verified now.
   */
  enter(attempt: Attempt): number {
    const wait = this.waitFor(attempt);
    if (wait > 0) return wait;
    adjust(this.#keyInFlight, attempt.lookupId, attempt.credential, 1);
    adjust(this.#clientInFlight, this.#counterKeyOf(attempt.client), attempt.credential, 1);
    return 0;
  }

  /**
   * How long an attempt would have to wait, without registering anything: lets a client over
   * its limit be answered before the store is asked for the row.
   *
   * @param attempt - lookup id, client address and presented key.
   * @returns seconds to wait before retrying (the rest of the window, or 1 when only attempts
   *   in flight fill the limit), or 0 when the attempt may be verified now.
   */
  waitFor(attempt: Attempt): number {
    const now = this.#now();
    const client = this.#counterKeyOf(attempt.client);
    let wait = this.#wait(this.#byClient, this.#clientInFlight, client, attempt.credential, this.#limits.maxFailuresPerClient, now);
    if (this.#perKey === undefined) return wait;
    // The per-key limit stops only suspect clients. Otherwise anyone who knows a lookup id
    // (public by design) could lock its genuine holder out for a whole window with ten
    // forgeries, before this instance has verified the real key once.
    const suspicion = attempt.client === undefined ? 'lasting' : this.#suspicion(client, attempt.credential, now);
    if (suspicion !== undefined) {
      const keyWait = this.#wait(this.#perKey.windows, this.#keyInFlight, attempt.lookupId, attempt.credential, this.#perKey.max, now);
      // A suspicion that ends with the verification in flight asks for a retry in a second,
      // not the rest of the window: behind a NAT it may be an honest neighbour's request.
      wait = Math.max(wait, suspicion === 'busy' ? Math.min(keyWait, 1) : keyWait);
    }
    return wait;
  }

  /**
   * Why a client with a known address is suspect, or undefined when it is not: `lasting` when
   * it failed in the current window, `busy` when it has another key under verification right
   * now (a burst of forgeries, or a neighbour behind the same address). A genuine holder who
   * sends only their own key is none of these. (A client without an address is always
   * suspect: `lasting`.)
   */
  #suspicion(client: string, credential: string, now: number): 'lasting' | 'busy' | undefined {
    if (this.#leftIn(this.#byClient.get(client, NO_LRU_CALL_OPTIONS), now) > 0) return 'lasting';
    const pending = this.#clientInFlight.get(client);
    return pending !== undefined && (pending.size > 1 || !pending.has(credential)) ? 'busy' : undefined;
  }

  /**
   * Ends an attempt that {@link enter} let through.
   *
   * @param attempt - the same object given to `enter`.
   */
  leave(attempt: Attempt): void {
    adjust(this.#keyInFlight, attempt.lookupId, attempt.credential, -1);
    adjust(this.#clientInFlight, this.#counterKeyOf(attempt.client), attempt.credential, -1);
  }

  /**
   * Counts one failed attempt that cost an Argon2 run.
   *
   * @param lookupId - the public lookup id of the presented key.
   * @param client - the client's address, if the app can tell it.
   */
  recordFailure(lookupId: string, client: string | undefined): void {
    const now = this.#now();
    if (this.#perKey !== undefined) this.#count(this.#perKey.windows, lookupId, now);
    this.#count(this.#byClient, this.#counterKeyOf(client), now);
  }

  /**
   * How long a client must wait before its next check, for checks that finish at once and
   * are counted per client only (the Basic-auth receivers'). Nothing of theirs is ever in
   * flight, so only the client's failures in the current window count.
   *
   * @param client - the client's address, if the caller can tell it.
   * @returns the seconds left in the window once the client's failures reach
   *   `maxFailuresPerClient`, or 0 when it may be checked now.
   */
  clientWait(client: string | undefined): number {
    const now = this.#now();
    const window = this.#byClient.get(this.#counterKeyOf(client), NO_LRU_CALL_OPTIONS);
    const left = this.#leftIn(window, now);
    if (left === 0 || window!.failures < this.#limits.maxFailuresPerClient) return 0;
    return Math.ceil(left / 1000);
  }

  /**
   * Counts one failed check against a client alone, for callers without lookup ids.
   *
   * @param client - the client's address, if the caller can tell it.
   */
  recordClientFailure(client: string | undefined): void {
    this.#count(this.#byClient, this.#counterKeyOf(client), this.#now());
  }

  /**
   * Milliseconds left in a counting window, or 0 once it has ended. A window that starts after
   * `now` was opened while the clock ran ahead and has since been set back: it counts as ended,
   * or a client would wait out the clock's whole error (a year, say) instead of a window.
   */
  #leftIn(window: Window | undefined, now: number): number {
    if (window === undefined) return 0;
    const elapsed = now - window.start;
    return elapsed >= 0 && elapsed < this.#limits.windowMs ? this.#limits.windowMs - elapsed : 0;
  }

  /**
   * What a client's failures are counted under: its address, an IPv6 one by its prefix. Every
   * client whose address is unknown shares one counter, under the empty string (which no
   * address is: the authenticator passes an empty one on as unknown). An address can go
   * unknown at will: a client that resets its connection right after sending leaves Node
   * nothing to read, and uncounted, it would escape its limit.
   */
  #counterKeyOf(address: string | undefined): string {
    return address === undefined ? UNKNOWN_CLIENT : clientCounterKey(address, this.#limits.ipv6PrefixLength);
  }

  #count(windows: LRUCache<string, Window>, id: string, now: number): void {
    const current = windows.get(id, NO_LRU_CALL_OPTIONS);
    if (current && this.#leftIn(current, now) > 0) {
      current.failures++;
    } else {
      windows.set(detached(id), { start: now, failures: 1 }, NO_LRU_CALL_OPTIONS);
    }
  }

  #wait(
    windows: LRUCache<string, Window>,
    inFlight: Map<string, Map<string, number>>,
    id: string,
    credential: string,
    max: number,
    now: number,
  ): number {
    const window = windows.get(id, NO_LRU_CALL_OPTIONS);
    const left = this.#leftIn(window, now);
    const failures = left > 0 ? window!.failures : 0;
    if (failures >= max) return Math.ceil(left / 1000);
    const pending = inFlight.get(id);
    const others = pending ? pending.size - (pending.has(credential) ? 1 : 0) : 0;
    return failures + others >= max ? 1 : 0;
  }
}

function adjust(inFlight: Map<string, Map<string, number>>, id: string, credential: string, by: 1 | -1): void {
  const pending = inFlight.get(id) ?? new Map<string, number>();
  const count = (pending.get(credential) ?? 0) + by;
  if (count > 0) pending.set(credential, count);
  else pending.delete(credential);
  if (pending.size > 0) inFlight.set(id, pending);
  else inFlight.delete(id);
}


/** `value` without its undefined properties, so spreading it over defaults keeps them. */
function stripUndefined<T extends object>(value: T): { [Name in keyof T]?: Exclude<T[Name], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [Name in keyof T]?: Exclude<T[Name], undefined>;
  };
}

/**
 * A copy of `text` that holds nothing of a longer string it may be part of. V8 keeps a slice
 * of a string (`slice`, a regex capture, the address a trust-proxy setup picks out of an
 * `X-Forwarded-For`) as a view of the whole, so a key kept for a whole window would keep a
 * 16 KB header alive with it: ten thousand tracked clients, 160 MB. Joining the characters
 * anew makes a string of its own. Only for keys the windows keep, once per window.
 */
function detached(text: string): string {
  return text.split('').join('');
}
