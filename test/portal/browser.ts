import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium (`CHROMIUM_PATH` to use another build); playwright-core never downloads a
 * browser of its own here.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a machine with no outside network: without the
 * background-networking ones it keeps trying to reach Google's hosts.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Whether the browser suite runs, and the one line to print when it does not. Without
 * Chromium, a laptop skips the suite; CI (`CI` set) runs it and fails at launch instead.
 */
export function browserSuiteState(): { run: boolean; skipNote?: string } {
  if (existsSync(CHROMIUM_PATH) || process.env.CI) return { run: true };
  return {
    run: false,
    skipNote: `portal browser suite skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium, or set CHROMIUM_PATH)`,
  };
}

/** A browser context on a fresh, empty profile, and how to throw both away. */
export interface FreshBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless on a new user-data-dir.
 *
 * @throws when Chromium is missing (the message says how to install it).
 */
export async function launchFreshChromium(options: { backForwardCache?: boolean } = {}): Promise<FreshBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing; .ci/run installs it with apt-get install -y chromium`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'keyward-portal-chromium-'));
  // A persistent context is the way to hand Chromium a user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    // Playwright turns Chromium's back/forward cache off; a browser as people use it has it.
    ...(options.backForwardCache ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}),
    viewport: { width: 1000, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
