// The API-keys page: plain browser JavaScript, no framework and no build step.
//
// The cleartext key exists in this page only between a generate/regenerate answer and the
// "I have copied it" click: it is kept in the banner's DOM node and in `shownKey`, and both
// are dropped on dismissal. Nothing writes it to storage, the URL or the console.

const API = '/portal/api';
/** Sent on every write; the server refuses writes without it (cross-site protection). */
const WRITE_HEADER = { 'X-Portal-Request': '1' };

const $ = (id) => document.getElementById(id);

/** @type {string | null} */
let shownKey = null;
/** The masked form of `shownKey`, as its card gave it: how a later card tells it was replaced. */
let shownMasked = null;
/** The key id of `shownKey`'s card: a regenerate keeps it, a new key has another. */
let shownKeyId = null;
/** The card as last read from the API, or null in the empty state. */
let card = null;
/** Bumped by every card update, so a slow read cannot overwrite a newer write's card. */
let cardVersion = 0;
/** Generates and regenerates of this page under way, whose answers bring their own card. */
let keyWritesUnderWay = 0;
// Where focus goes when the regenerate dialog closes: back to its button, or to the new key.
let focusAfterDialog = 'regenerate';

/** A failure the page can explain: its message is a sentence written for the merchant. */
class PortalError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Codes after which a write may or may not have landed: the answer was lost, unreadable, or a
 * fault. Any other code is the server's definite refusal.
 */
const UNKNOWN_OUTCOME = new Set(['ERR_NETWORK', 'ERR_BAD_ANSWER', 'ERR_HTTP', 'ERR_INTERNAL', 'ERR_STORE_UNAVAILABLE']);

/**
 * What to tell the merchant about a failure. Never a raw JavaScript error: its text ("Cannot
 * read properties of null", "Unexpected token '<'") means nothing to them.
 */
function messageOf(error) {
  return error instanceof PortalError ? error.message : 'Something went wrong on this page. Reload it to see where things stand.';
}

/** An answer that is not what the API sends: a proxy's error page, a cut-off body. */
function badAnswer() {
  return new PortalError('ERR_BAD_ANSWER', 'The portal server sent an answer this page cannot read. Try again in a moment.');
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') Object.assign(headers, WRITE_HEADER);
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch {
    throw new PortalError('ERR_NETWORK', 'The portal server cannot be reached. Is `npm run portal` still running?');
  }
  const data = await response.json().catch(() => null);
  const refusal = data?.error;
  if (!response.ok && typeof refusal?.code === 'string' && typeof refusal.message === 'string') {
    throw new PortalError(refusal.code, refusal.message);
  }
  if (!response.ok) {
    // Not the API's error shape: a proxy or gateway in between answered (502, 504, …).
    throw new PortalError('ERR_HTTP', `The portal server could not answer (HTTP ${response.status}). Try again in a moment.`);
  }
  if (typeof data !== 'object' || data === null) throw badAnswer();
  return data;
}

/** The card of an answer, checked to be one before anything renders it; null only if `nullable`. */
function cardIn(data, { nullable = false } = {}) {
  const { card } = data;
  if (card === null && nullable) return null;
  const texts = ['id', 'key_type', 'status_lbl', 'environment', 'masked_key'].every((name) => typeof card?.[name] === 'string');
  const dates = ['created_at', 'last_used_at', 'expires_at'].every((name) => card?.[name] === null || typeof card?.[name] === 'string');
  if (!texts || !dates || !Array.isArray(card.unreadable_dates)) throw badAnswer();
  return card;
}

/** The answer to generate or regenerate: the cleartext and its card. */
function issuedIn(data) {
  if (typeof data.key !== 'string') throw badAnswer();
  return { key: data.key, card: cardIn(data) };
}

// ---- rendering ------------------------------------------------------------------------------

/** Dates as `2026-12-04 15:41:07 UTC`: the same on every machine, with the ISO value kept. */
function timeElement(iso) {
  const time = document.createElement('time');
  time.dateTime = iso;
  time.textContent = `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  return time;
}

/**
 * One of the card's dates: its time, `none` for null, or a note when the stored value holds
 * no moment (the API then sends null and names the field in `unreadable_dates`).
 */
function dateCell(field, none) {
  if (card.unreadable_dates.includes(field)) return 'Unknown: the stored value is not a date';
  return card[field] === null ? none : timeElement(card[field]);
}

function renderCard() {
  $('key-loading').hidden = true;
  $('key-empty').hidden = card !== null;
  $('key-card').hidden = card === null;
  $('webhook-needs-key').hidden = card !== null;
  $('webhook-form').hidden = card === null;
  if (card === null) return;

  $('masked-key').textContent = card.masked_key;
  const badge = $('status-badge');
  badge.textContent = card.status_lbl;
  badge.dataset.label = card.status_lbl;
  $('field-key-id').textContent = card.id;
  $('field-key-type').textContent = card.key_type;
  // The label is what the seed page's card shows; the stored value says why, e.g. "locked".
  $('field-status').textContent =
    card.status === 'allowed' ? card.status_lbl : `${card.status_lbl} (${card.status ?? 'unknown'})`;
  $('field-environment').textContent = card.environment;
  $('field-created').replaceChildren(dateCell('created_at', 'Unknown'));
  $('field-expires').replaceChildren(dateCell('expires_at', 'Never'));
  $('field-last-used').replaceChildren(dateCell('last_used_at', 'Never'));
}

/** Fills the webhook form from the card; not on a mere refresh, which must not wipe typing. */
function renderWebhook() {
  if (card === null || !('webhook_url' in card)) return;

  $('webhook_url').value = card.webhook_url ?? '';
  $('webhook_basic_auth_username').value = card.webhook_basic_auth_username ?? '';
  // Write-only: the field is always empty; the flag tells whether a password is stored.
  $('webhook_basic_auth_password').value = '';
  $('webhook_clear_password').checked = false;
  const configured = card.webhook_basic_auth_configured === true;
  $('password-state').textContent = configured
    ? 'webhook_basic_auth_configured: true. A password is saved and is never shown again; type a new one to replace it.'
    : 'webhook_basic_auth_configured: false. No password is saved.';
  $('password-state').dataset.configured = String(configured);
  $('clear-password-row').hidden = !configured;
  $('webhook-off').hidden = card.webhook_url === null;
}

function showError(message) {
  $('page-error').textContent = message;
}

// ---- the one-time banner --------------------------------------------------------------------

function showBanner(key, heading) {
  shownKey = key;
  shownMasked = card.masked_key;
  shownKeyId = card.id;
  const banner = $('banner-template').content.firstElementChild.cloneNode(true);
  banner.querySelector('.banner-heading').textContent = heading;
  banner.querySelector('.cleartext').textContent = key;
  // Inserting it makes screen readers announce the banner's role="alert" message, which is
  // the heading and the sentence only: the key is outside it, or they would read its 58
  // characters aloud, one by one, to anyone in earshot. It stays there to read and copy.
  $('banner-slot').replaceChildren(banner);
  $('copy-key').addEventListener('click', copyKey);
  $('dismiss-key').addEventListener('click', dismissBanner);
}

async function copyKey() {
  const status = $('copy-status');
  if (shownKey === null) return;
  try {
    await navigator.clipboard.writeText(shownKey);
    status.textContent = 'Copied to clipboard.';
  } catch {
    // No clipboard access (an insecure origin or a denied permission): select the text so
    // the usual keyboard shortcut copies it.
    const range = document.createRange();
    range.selectNodeContents($('cleartext-key'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    status.textContent = 'The browser blocked the clipboard. The key is selected: press Ctrl+C (⌘C on a Mac).';
  }
}

function dismissBanner() {
  dropBanner();
  getSelection().removeAllRanges();
  $('key-heading').focus();
}

// ---- actions ----------------------------------------------------------------------------------

async function loadCard({ withWebhook }) {
  const version = ++cardVersion;
  const fresh = cardIn(await api('GET', '/key'), { nullable: true });
  if (version !== cardVersion) return;
  card = fresh;
  renderCard();
  if (withWebhook) renderWebhook();
}

async function generate() {
  const button = $('generate');
  button.disabled = true;
  keyWritesUnderWay++;
  showError('');
  try {
    const issued = issuedIn(await api('POST', '/key'));
    cardVersion++;
    card = issued.card;
    renderCard();
    renderWebhook();
    showBanner(issued.key, 'Your new API key');
    $('copy-key').focus();
  } catch (error) {
    showError(messageOf(error));
    if (error.code === 'ERR_KEY_EXISTS') await loadCard({ withWebhook: true }).catch(() => {});
    if (error.code === 'ERR_KEY_CONFLICT') {
      // The new key was stored, then revoked, deleted or regenerated by another call before
      // the server could read it back: the card says which, so the sentence can.
      let reread = true;
      await loadCard({ withWebhook: true }).catch(() => { reread = false; });
      showError(lostNewKeyMessage(reread));
    }
  } finally {
    keyWritesUnderWay--;
    button.disabled = false;
  }
}

/** What to say when a generate's new key was changed elsewhere before its answer could carry it. */
function lostNewKeyMessage(reread) {
  if (!reread) {
    return 'The new key was changed elsewhere (another tab or person) as soon as it was made, so it never reached this page and no longer works. Reload the page to see where things stand.';
  }
  if (card === null) {
    return 'The new key was revoked or deleted elsewhere (another tab or person) as soon as it was made: it no longer works and no key replaces it. Generate another when you need one.';
  }
  return 'The new key was regenerated or replaced elsewhere (another tab or person) as soon as it was made: it never reached this page, and whoever did it holds the key the card shows. Regenerate it to get one you hold.';
}

function openRegenerateDialog() {
  showError('');
  // showModal makes the rest of the page inert and moves focus to the autofocus button.
  $('regenerate-dialog').showModal();
}

async function confirmRegenerate() {
  const dialog = $('regenerate-dialog');
  const confirm = $('regenerate-confirm');
  confirm.disabled = true;
  keyWritesUnderWay++;
  const maskedBefore = card?.masked_key;
  try {
    const issued = issuedIn(await api('POST', '/key/regenerate'));
    cardVersion++;
    card = issued.card;
    renderCard();
    showBanner(issued.key, 'Your regenerated API key — the previous key no longer works');
    // Closed already (Escape or Cancel while waiting): no close event is left to move focus.
    if (dialog.open) focusAfterDialog = 'copy-key';
    else $('copy-key').focus();
  } catch (error) {
    showError(messageOf(error));
    // A definite answer says what happened; only a lost, unreadable or failed one leaves it
    // unknown. A store that failed may have written the new key all the same.
    const unknownOutcome = !(error instanceof PortalError) || UNKNOWN_OUTCOME.has(error.code);
    let reread = true;
    await loadCard({ withWebhook: false }).catch(() => { reread = false; });
    if (error.code === 'ERR_KEY_CONFLICT') {
      dropBanner();
      showError('The key was just regenerated elsewhere (another tab or person): whoever did it holds the new key, and the previous one no longer works.');
    } else if (unknownOutcome && !reread) {
      showError(`${messageOf(error)} The key may have been replaced: reload the page before you use it.`);
    } else if (unknownOutcome && card !== null && card.masked_key !== maskedBefore) {
      dropBanner();
      showError('The key was replaced, but the new one never reached this page: the previous key no longer works and nobody holds the new one. Regenerate again.');
    }
  } finally {
    keyWritesUnderWay--;
    confirm.disabled = false;
    dialog.close();
  }
}

/** Drops the one-time key shown, if any: the page was left, or the key no longer works. */
function dropBanner() {
  shownKey = null;
  shownMasked = null;
  shownKeyId = null;
  $('banner-slot').replaceChildren();
}

async function saveWebhook(event) {
  event.preventDefault();
  $('webhook-error').textContent = '';
  $('webhook-saved').textContent = '';

  const password = $('webhook_basic_auth_password').value;
  const body = {
    webhook_url: $('webhook_url').value.trim(),
    // As typed, spaces at its ends too: keyward accepts them, and a username set through the
    // API must survive a save of the unchanged form. An empty field removes it.
    webhook_basic_auth_username: $('webhook_basic_auth_username').value || null,
  };
  // An empty password field keeps the saved one (the field is always empty after a save).
  if (password !== '') body.webhook_basic_auth_password = password;
  else if ($('webhook_clear_password').checked) body.webhook_basic_auth_password = null;

  const button = $('webhook-save');
  button.disabled = true;
  try {
    const saved = cardIn(await api('PUT', '/webhook', body));
    cardVersion++;
    card = saved;
    renderCard();
    renderWebhook();
    $('webhook_basic_auth_password').value = '';
    $('webhook-saved').textContent = 'Webhook settings saved.';
  } catch (error) {
    // A refused save keeps what was typed, the new password too: cleared, a save after the fix
    // would keep the old password and say "saved".
    $('webhook-error').textContent = messageOf(error);
  } finally {
    button.disabled = false;
  }
}

async function turnOffWebhook() {
  $('webhook-error').textContent = '';
  $('webhook-saved').textContent = '';
  try {
    const cleared = cardIn(await api('DELETE', '/webhook'));
    cardVersion++;
    card = cleared;
    renderCard();
    renderWebhook();
    $('webhook-saved').textContent = 'Webhooks turned off: URL, username and password removed.';
    $('webhook_url').focus();
  } catch (error) {
    $('webhook-error').textContent = messageOf(error);
  }
}

/**
 * After a card read: a one-time key on show stays, unless the card now has another key or
 * none. Then it no longer works, and the banner goes, saying what happened elsewhere: no card
 * means the key was revoked or deleted (no new key exists); the same key id with another mask
 * means it was regenerated; another key id means a new key was made after it went.
 */
function dropReplacedKey() {
  if (shownKey === null || card?.masked_key === shownMasked) return;
  const sameKeyId = card?.id === shownKeyId;
  dropBanner();
  if (card === null) {
    showError('The key shown here was revoked or deleted elsewhere (another tab or person): it no longer works, and no new key replaces it. Generate one when you need it.');
  } else if (sameKeyId) {
    showError('The key shown here was regenerated elsewhere (another tab or person): it no longer works, and whoever regenerated it holds the new key.');
  } else {
    showError('The key shown here was revoked or deleted elsewhere (another tab or person), and a new key was generated since: the one shown no longer works, and whoever generated the new one holds it.');
  }
}

/**
 * Reads the card again as the page comes back into view: another tab may have generated or
 * regenerated the key meanwhile, or a curl call set "Last used". Quietly: a failed background
 * read must not replace a message the merchant is reading. The webhook form is filled only
 * when the key is new to this page, so what is typed in it stays. No cleartext can come back:
 * the API never sends one again.
 */
async function refreshOnReturn() {
  // This page's own new key may be on its way: a card read meanwhile could show it before
  // its banner, and the key still on show would look replaced by someone else.
  if (keyWritesUnderWay > 0) return;
  try {
    await loadCard({ withWebhook: card === null });
  } catch {
    return;
  }
  dropReplacedKey();
}

async function refresh() {
  showError('');
  try {
    await loadCard({ withWebhook: false });
  } catch (error) {
    showError(messageOf(error));
    return;
  }
  dropReplacedKey();
}

async function start() {
  // Leaving the page drops the key, as the banner says: a page the browser keeps for its Back
  // button (the back/forward cache) would otherwise come back with the key still shown.
  // A webhook password typed into a save that was refused goes too.
  addEventListener('pagehide', () => {
    dropBanner();
    $('webhook_basic_auth_password').value = '';
  });
  $('generate').addEventListener('click', generate);
  $('regenerate').addEventListener('click', openRegenerateDialog);
  $('regenerate-cancel').addEventListener('click', () => $('regenerate-dialog').close());
  $('regenerate-confirm').addEventListener('click', confirmRegenerate);
  // Closed by Cancel, Escape or after confirming: focus goes back to where it came from.
  // After a regenerate, to the new key's Copy button instead.
  $('regenerate-dialog').addEventListener('close', () => {
    const target = $(focusAfterDialog) ?? $('regenerate');
    focusAfterDialog = 'regenerate';
    target.focus();
  });
  $('webhook-form').addEventListener('submit', saveWebhook);
  $('webhook-off').addEventListener('click', turnOffWebhook);
  $('refresh').addEventListener('click', refresh);
  // Back from another tab (visibilitychange) or another window, such as a terminal (focus).
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void refreshOnReturn();
  });
  window.addEventListener('focus', () => void refreshOnReturn());

  try {
    const session = await api('GET', '/session');
    const texts = ['account_id', 'environment', 'gateway_url'].every((name) => typeof session[name] === 'string');
    if (!texts || typeof session.usage_flush_interval_ms !== 'number') throw badAnswer();
    $('account-id').textContent = session.account_id;
    $('account-environment').textContent = session.environment;
    $('gateway-url').textContent = session.gateway_url;
    const seconds = session.usage_flush_interval_ms / 1000;
    $('usage-lag').textContent = `${seconds} second${seconds === 1 ? '' : 's'}`;
    await loadCard({ withWebhook: true });
  } catch (error) {
    $('key-loading').hidden = true;
    showError(messageOf(error));
  }
}

void start();
