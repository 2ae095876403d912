import { describe, expect, it } from 'vitest';
import * as expressEntry from 'keyward/express';
import * as fastifyEntry from 'keyward/fastify';
import * as koaEntry from 'keyward/koa';
import { fastifyBasicAuth } from '../../adapters/fastify-basic-auth.js';
import { koaBasicAuth } from '../../adapters/koa-basic-auth.js';

describe('adapter entry points', () => {
  it('keyward/koa exports the API-key middleware and the webhook Basic-auth middleware', () => {
    expect(Object.keys(koaEntry).sort()).toEqual(['koaApiKeyAuth', 'koaBasicAuth']);
    expect(koaEntry.koaBasicAuth).toBe(koaBasicAuth);
  });

  it('keyward/fastify exports the plugin, the route hook and the webhook Basic-auth hook', () => {
    expect(Object.keys(fastifyEntry).sort()).toEqual(['fastifyApiKeyAuth', 'fastifyApiKeyAuthHook', 'fastifyBasicAuth']);
    expect(fastifyEntry.fastifyBasicAuth).toBe(fastifyBasicAuth);
  });

  it('keyward/express exports the API-key middleware and the webhook Basic-auth middleware', () => {
    expect(Object.keys(expressEntry).sort()).toEqual(['expressApiKeyAuth', 'expressBasicAuth']);
  });
});
