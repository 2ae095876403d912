export { ApiKeyAuthError, type ApiKeyAuthErrorCode, type ApiKeyAuthErrorOptions } from './errors.js';
export {
  API_KEY_PATTERN,
  CHECKSUM_LENGTH,
  ENVIRONMENTS,
  KEY_LENGTH,
  KEY_PREFIXES,
  LOOKUP_ID_LENGTH,
  SECRET_LENGTH,
  checksumOf,
  generateApiKey,
  maskApiKey,
  NOT_A_KEY_MASK,
  parseApiKey,
  type Environment,
  type GeneratedApiKey,
  type KeyFormatFailure,
  type ParseApiKeyResult,
  type ParsedApiKey,
} from './key-format.js';
export {
  ARGON2_BOUNDS,
  DEFAULT_ARGON2_PARAMS,
  parseStoredHash,
  type Argon2Params,
  type ParsedArgon2Hash,
  type StoredHashFault,
} from './phc.js';
export { hashSecret, needsRehash, verifySecret } from './hash.js';
export { rehashParams } from './hash-policy.js';
export { rowPepper, type BoundRowFields } from './row-binding.js';
export {
  KEY_STATUSES,
  normalizeStatus,
  statusLabel,
  type KeyStatus,
  type KeyStatusInput,
  type StatusLabel,
} from './statuses.js';
export type { ApiKeyRow, ApiKeyRowChange, KeyStore, KeyUsage, RecordUsageResult } from './store.js';
export { MemoryKeyStore } from './memory-store.js';
export { USAGE_BATCH_LIMIT } from './usage-calls.js';
export {
  MAX_CREDENTIAL_HEADER_LENGTH,
  extractCredential,
  rawHeaderValue,
  parseBearerHeader,
  type CredentialCarriers,
  type CredentialFailure,
  type CredentialRequest,
  type ExtractCredentialResult,
} from './extract.js';
export { createApiKeyAuth } from './authenticator.js';
export {
  isPendingDecision,
  type ApiKeyAuth,
  type ApiKeyContext,
  type AuthDecision,
  type AuthResult,
  type DecisionReason,
  type RouteRequirement,
} from './api-key-auth.js';
export type { ApiKeyAuthOptions } from './auth-options.js';
export type { VerificationMemoOptions } from './verification-memo.js';
export type { Argon2PoolOptions } from './argon2-pool.js';
export { defaultErrorBody, responseFor, type AuthResponse, type ErrorBodyFormatter } from './responses.js';
export { warnOnce } from './warn-once.js';
export { KEYWARD_REDACT_PATHS, type LogFields, type Logger } from './logger.js';
export {
  createKeyManager,
  type IssueKeyInput,
  type IssuedKey,
  type KeyCard,
  type KeyManager,
  type KeyManagerOptions,
} from './key-manager.js';
export { resolveRouteOptions, type ResolvedRouteOptions, type RouteOptions } from './route-options.js';
export {
  MAX_WEBHOOK_PASSWORD_BYTES,
  MIN_WEBHOOK_PASSWORD_CHARACTERS,
  MAX_WEBHOOK_URL_LENGTH,
  MAX_WEBHOOK_USERNAME_BYTES,
  assertWebhookPassword,
  normalizeWebhookUrl,
  normalizeWebhookUsername,
  type WebhookSettings,
  type WebhookSettingsInput,
} from './webhook-settings.js';
export { createSecretBox, type SealingKeys, type SecretBox } from './secret-box.js';
export { basicAuthorizationHeader, webhookAuthorizationFor } from './webhook-authorization.js';
export { webhookSealContext } from './webhook-seal-context.js';
export {
  MAX_BASIC_HEADER_LENGTH,
  createBasicAuthChecker,
  type BasicAuthChecker,
  type BasicAuthFailure,
  type BasicAuthOptions,
  type BasicAuthResult,
} from './basic-auth.js';
export { DEFAULT_BASIC_AUTH_THROTTLE, type BasicAuthThrottleOptions } from './basic-auth-throttle.js';
// Option checks shared with the other entry points (keyward/postgres, keyward/fastify), which
// must throw the one ApiKeyAuthError class of this entry.
export { assertInteger, assertOptionsObject, knownOptions } from './options.js';
export { assertLoggerShaped, completeLogger } from './logger.js';
export { DEFAULT_ATTEMPT_THROTTLE, type AttemptThrottleOptions } from './attempt-throttle.js';
export type { PepperOptions } from './pepper.js';
export { PEPPER_ID_SHAPE } from './phc.js';
export { NodeCredentialRequest, type ClientIpSource } from './node-request.js';
export { refusalClosesConnection } from './unread-body.js';
