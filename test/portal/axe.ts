import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core's WCAG 2.x A and AA rules on the page as it is now and returns one line per
 * violation (`rule-id: selector, …`), empty when there are none.
 *
 * The source is evaluated through the DevTools protocol, which the page's
 * Content-Security-Policy does not govern, so the page keeps its strict policy.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(await axeSource);
  const script = `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((result) => result.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`;
  return page.evaluate<string[]>(script);
}
