import type { ServerResponse } from 'node:http';

/**
 * Sets each header `headers` holds as its own on Node's response. Own names only: `for…in`
 * also visits what a polluted Object.prototype holds. (Not Object.keys, which would allocate
 * an array for every refusal of a flood.)
 *
 * @param res - Node's response.
 * @param headers - a refusal's headers, as the core built them.
 */
export function setOwnHeaders(res: ServerResponse, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) {
    if (Object.hasOwn(headers, name)) res.setHeader(name, headers[name]!);
  }
}
