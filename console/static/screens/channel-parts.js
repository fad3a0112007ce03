// Parts of the channel screens that the wizard (#/new) and the channel page (#/channels/:channelId) share:
// the onboarding's live state with the callback URL and verification code, and the channel's Pages.

import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get } from '../lib/api.js';
import { useLoad, usePolling, useSubmit } from '../lib/hooks.js';
import { Button, ConfirmDialog, CopyValue, Field, Form, Notice, Spinner, Table, fieldError, formatTime } from '../lib/ui.js';

/** How often the live states (onboarding, connecting Pages) are read again. */
export const pollMillis = 2000;

/** Why an onboarding failed, in words, by its error code. */
const failureReasons = {
  FACEBOOK_CERTIFICATE_MISSING: 'no Facebook authentication certificate is uploaded. A system administrator must upload one (System › Certificates); then start the onboarding again.',
  FACEBOOK_CERTIFICATE_EXPIRED: 'every uploaded Facebook authentication certificate has expired. A system administrator must upload a valid one; then start the onboarding again.',
  META_APP_CREDENTIALS_INVALID: 'Meta refused the App ID and App Secret. Change the App Secret (Edit) and start the onboarding again.',
  APP_ALREADY_CONNECTED: 'the Meta app is already connected to another channel: one Facebook application connects to one channel.',
  META_UNAVAILABLE: 'Meta could not be reached. Start the onboarding again later.',
  META_RATE_LIMITED: 'Meta limited the requests. Start the onboarding again later.',
};

/**
 * The onboarding's state, read every pollMillis while it can still change. setup is {callbackUrl,
 * verifyToken} when the verification code is known (it is shown once, when the channel is created or the
 * code replaced). onChange(onboarding) is told each new state.
 */
export function OnboardingPanel({ channel, setup, onSetup, canWrite, onChange }) {
  const state = useLoad(() => get(`/v1/channels/${encodeURIComponent(channel.id)}/onboarding`), [channel.id]);
  const onboarding = state.data || channel.onboarding;
  const live = ['pending', 'awaiting_verification', 'verified'].includes(onboarding.status);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState(null);
  usePolling(async () => state.setData(await get(`/v1/channels/${encodeURIComponent(channel.id)}/onboarding`)),
    pollMillis, live);
  useEffect(() => {
    if (state.data && onChange) onChange(state.data);
  }, [state.data && state.data.status]);

  const act = (name, fn) => async () => {
    setBusy(name);
    setError(null);
    try {
      await fn();
      await state.reload();
    } catch (e) {
      setError(e);
    }
    setBusy('');
  };
  const restart = act('restart', async () => {
    const ch = await api('POST', `/v1/channels/${encodeURIComponent(channel.id)}/onboarding`);
    onChange && onChange(ch.onboarding);
  });
  const replaceCode = act('code', async () => {
    onSetup(await api('POST', `/v1/channels/${encodeURIComponent(channel.id)}/verify-token`));
  });
  const [cancelling, setCancelling] = useState(false);
  const cancel = act('cancel', async () => {
    setCancelling(false);
    const ch = await api('POST', `/v1/channels/${encodeURIComponent(channel.id)}/onboarding/cancel`);
    onChange && onChange(ch.onboarding);
  });

  const s = onboarding.status;
  return html`<section aria-labelledby="onboarding-heading">
    <h2 id="onboarding-heading">Meta verification</h2>
    ${setup ? html`
      <p>In Meta for Developers, open the app's <strong>Webhooks</strong>, choose <strong>Edit callback URL</strong>,
        paste the callback URL and the verification code below, and click <strong>Verify and save</strong>.</p>
      <${CopyValue} label="Callback URL" value=${setup.callbackUrl} copyLabel="Copy callback URL" />
      <${CopyValue} label="Verification code" value=${setup.verifyToken} copyLabel="Copy verification code" />
      <p class="hint">The verification code is shown only now. If it is lost, replace it.</p>`
    : html`
      <${CopyValue} label="Callback URL" value=${channel.callbackUrl} copyLabel="Copy callback URL" />
      ${canWrite && live && html`<p>The verification code was shown when the channel was created and cannot be read
        again. Replace it to paste a new one into Meta for Developers.</p>`}`}
    <div aria-live="polite">
      ${(s === 'pending' || s === 'awaiting_verification') && html`<${Notice}>
        <p><span class="spin" aria-hidden="true"></span> Waiting for Meta's verification of the callback URL…</p>
        ${onboarding.expiresAt && html`<p>The wait ends at ${formatTime(onboarding.expiresAt)}.</p>`}</${Notice}>`}
      ${s === 'verified' && html`<${Notice} kind="success">Meta verified the callback URL
        ${onboarding.verifiedAt && ` at ${formatTime(onboarding.verifiedAt)}`}. Add the Pages, then Submit.</${Notice}>`}
      ${s === 'active' && html`<${Notice} kind="success">Successful access${onboarding.activatedAt &&
        ` since ${formatTime(onboarding.activatedAt)}`}.</${Notice}>`}
      ${s === 'verification_expired' && html`<${Notice} kind="warning">Meta did not verify the callback URL in time.
        Start the onboarding again, then verify in Meta for Developers.</${Notice}>`}
      ${s === 'failed' && html`<${Notice} kind="error">The onboarding failed: ${failureReasons[onboarding.errorCode]
        || onboarding.errorCode || 'see the audit log'}</${Notice}>`}
      ${s === 'cancelled' && html`<${Notice} kind="warning">The onboarding was cancelled.</${Notice}>`}
    </div>
    ${state.error && html`<${Notice} kind="error">The onboarding state could not be read: ${state.error.message}</${Notice}>`}
    ${error && html`<${Notice} kind="error">${error.message}</${Notice}>`}
    ${canWrite && html`<div class="actions">
      ${['verification_expired', 'failed', 'cancelled'].includes(s) && html`<${Button} kind="primary"
        busy=${busy === 'restart'} onClick=${restart}>Start the onboarding again</${Button}>`}
      ${s !== 'active' && s !== 'deleting' && html`<${Button} busy=${busy === 'code'} onClick=${replaceCode}>
        Replace the verification code</${Button}>`}
      ${live && html`<${Button} kind="danger" busy=${busy === 'cancel'} onClick=${() => setCancelling(true)}>
        Cancel the onboarding</${Button}>`}
    </div>
    <${ConfirmDialog} open=${cancelling} title="Cancel the onboarding?" confirmLabel="Cancel onboarding"
      cancelLabel="Keep waiting" danger onConfirm=${cancel} onCancel=${() => setCancelling(false)}>
      <p>The channel stops waiting for Meta's verification and no Page can be added. It can be started again.</p>
    </${ConfirmDialog}>`}
  </section>`;
}

const pageStatusLabels = { connecting: 'Connecting', subscribed: 'Subscribed', subscription_failed: 'Subscription failed' };
const healthLabels = { healthy: 'Healthy', degraded: 'Degraded', reauth_required: 'New token needed' };

/**
 * The channel's Pages: the list with status and token health, Create (Page ID and TokenSecret), retry of a
 * failed subscription, remove, and for the channel page Configuration (a new Token Secret). missing is the
 * set of Page IDs the secret rotation still waits for. onChange() is called after every change.
 */
export function PagesPanel({ channelId, canWrite, configure, missing = new Set(), onChange }) {
  const base = `/v1/channels/${encodeURIComponent(channelId)}/pages`;
  // A channel has at most 200 Pages (the API's MaxChannelPages), the most one list page holds: all of them.
  const pages = useLoad(() => get(`${base}?limit=200`), [channelId]);
  const items = (pages.data && pages.data.items) || [];
  const [creating, setCreating] = useState(false);
  const [result, setResult] = useState(null); // {kind, text}
  const [busy, setBusy] = useState('');
  const [removing, setRemoving] = useState(null);
  const [configuring, setConfiguring] = useState(null);
  usePolling(pages.reload, pollMillis, items.some((p) => p.status === 'connecting'));

  const changed = async (kind, text) => {
    setResult(text ? { kind, text } : null);
    await pages.reload();
    onChange && onChange();
  };
  const retry = (p) => async () => {
    setBusy(`retry:${p.pageId}`);
    try {
      const page = await api('POST', `${base}/${encodeURIComponent(p.pageId)}/connect`);
      await changed(page.status === 'subscribed' ? 'success' : 'warning', subscriptionText(page));
    } catch (e) {
      await changed('error', `Page ${p.pageId}: ${e.message}`);
    }
    setBusy('');
  };
  const remove = async () => {
    const p = removing;
    setBusy(`remove:${p.pageId}`);
    try {
      const answer = await api('DELETE', `${base}/${encodeURIComponent(p.pageId)}`);
      await changed('success', answer === null ? `Page ${p.pageId} is removed.` : `Page ${p.pageId} is being removed.`);
    } catch (e) {
      await changed('error', `Page ${p.pageId} could not be removed: ${e.message}`);
    }
    setBusy('');
    setRemoving(null);
  };

  const columns = [
    { label: 'Page ID', render: (p) => p.pageId },
    { label: 'Name', render: (p) => p.name || '—' },
    { label: 'Status', render: (p) => html`${pageStatusLabels[p.status] || p.status}${p.statusReason && ` (${p.statusReason})`}` },
    { label: 'Token health', render: (p) => html`${healthLabels[p.tokenHealth] || p.tokenHealth}${p.tokenHealthReason
      && ` (${p.tokenHealthReason})`}${missing.has(p.pageId) ? html`<br /><strong>Needs a new Token Secret</strong>` : ''}` },
    { label: 'Token updated', render: (p) => formatTime(p.tokenSecret.updatedAt) },
  ];
  if (canWrite) {
    columns.push({ label: 'Operation', render: (p) => html`<div class="row-actions">
      ${p.status === 'subscription_failed' && html`<${Button} busy=${busy === `retry:${p.pageId}`}
        onClick=${retry(p)} aria-label=${`Retry Page ${p.pageId}`}>Retry</${Button}>`}
      ${configure && html`<${Button} onClick=${() => setConfiguring(p)}
        aria-label=${`Configuration of Page ${p.pageId}`}>Configuration</${Button}>`}
      <${Button} kind="danger" onClick=${() => setRemoving(p)} aria-label=${`Remove Page ${p.pageId}`}>Remove</${Button}>
    </div>` });
  }
  return html`<section aria-labelledby="pages-heading">
    <h2 id="pages-heading">Pages</h2>
    <p>Each Facebook home page connects to one channel; a channel may have several.</p>
    ${result && html`<${Notice} kind=${result.kind}>${result.text}</${Notice}>`}
    ${pages.error && html`<${Notice} kind="error">The Pages could not be loaded: ${pages.error.message}</${Notice}>`}
    ${pages.loading && !pages.data ? html`<${Spinner} label="Loading Pages…" />`
      : html`<${Table} caption="Pages of the channel" columns=${columns} rows=${items} rowKey=${(p) => p.pageId}
        empty="No Page yet." />`}
    ${canWrite && (creating
      ? html`<${PageCreate} base=${base} onDone=${async (page) => {
        setCreating(false);
        await changed(page.status === 'subscribed' ? 'success' : page.status === 'connecting' ? 'info' : 'warning',
          subscriptionText(page));
      }} onCancel=${() => setCreating(false)} />`
      : html`<div class="actions"><${Button} kind="primary" onClick=${() => { setCreating(true); setResult(null); }}>
          Create</${Button}></div>`)}
    ${configuring && html`<${TokenSecretDialog} base=${base} page=${configuring}
      onDone=${async (page) => { setConfiguring(null); await changed('success', `Page ${page.pageId} has its new Token Secret; Meta accepted it.`); }}
      onCancel=${() => setConfiguring(null)} />`}
    ${canWrite && html`<${ConfirmDialog} open=${!!removing} title="Remove the Page?" confirmLabel="Remove" danger
      busy=${removing && busy === `remove:${removing.pageId}`} onConfirm=${remove} onCancel=${() => setRemoving(null)}>
      <p>Page ${removing && removing.pageId} is unsubscribed from the app and removed from the channel: its messages
        stop reaching agents.</p>
    </${ConfirmDialog}>`}
  </section>`;
}

/** What a connection's answer means for the Page. */
function subscriptionText(page) {
  switch (page.status) {
    case 'subscribed': return `Page ${page.pageId} is subscribed: its messages reach the channel.`;
    case 'connecting': return `Page ${page.pageId} is still connecting; its status updates here.`;
    default: return `Page ${page.pageId}: the subscription failed (${page.statusReason || 'unknown reason'}). Retry it.`;
  }
}

/** The Create form of a Page: the seed's Page ID and TokenSecret, and an optional name. */
function PageCreate({ base, onDone, onCancel }) {
  const [pageId, setPageId] = useState('');
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const { busy, error, run: submit } = useSubmit(async () => {
    const body = { pageId: pageId.trim(), tokenSecret: token.trim() };
    if (name.trim()) body.name = name.trim();
    onDone(await api('POST', base, body));
  });
  return html`<${Form} class="panel" onSubmit=${submit} submitLabel="Save" busy=${busy} error=${error}
    labels=${{ pageId: 'Page ID', tokenSecret: 'TokenSecret', name: 'Page name' }}
    actions=${html`<${Button} onClick=${onCancel}>Cancel</${Button}>`}>
    <h3>Create a Page</h3>
    <${Field} label="Page ID" value=${pageId} onInput=${setPageId} required inputMode="numeric" autocomplete="off"
      hint="The home page ID on Meta for Developers." error=${fieldError(error, 'pageId')} />
    <${Field} label="TokenSecret" type="password" value=${token} onInput=${setToken} required autocomplete="off"
      hint="The Page access token on Meta for Developers." error=${fieldError(error, 'tokenSecret')} />
    <${Field} label="Page name" value=${name} onInput=${setName} maxLength="100" hint="Optional, for this console."
      error=${fieldError(error, 'name')} />
  </${Form}>`;
}

/** Configuration: a new Token Secret for one Page, in a dialog. */
function TokenSecretDialog({ base, page, onDone, onCancel }) {
  const [token, setToken] = useState('');
  const { busy, error, run: submit } = useSubmit(async () => {
    onDone(await api('PUT', `${base}/${encodeURIComponent(page.pageId)}/token-secret`, { tokenSecret: token.trim() }));
  });
  return html`<${ModalForm} title=${`Configuration of Page ${page.pageId}`} onCancel=${onCancel}>
    <${Form} onSubmit=${submit} submitLabel="Save" busy=${busy} error=${error} labels=${{ tokenSecret: 'Token Secret' }}
      actions=${html`<${Button} onClick=${onCancel}>Cancel</${Button}>`}>
      <p>Paste the Page's new access token. Meta checks it under the channel's current App Secret; the Page
        stays subscribed.</p>
      <${Field} label="Token Secret" type="password" value=${token} onInput=${setToken} required autocomplete="off"
        error=${fieldError(error, 'tokenSecret')} />
    </${Form}>
  </${ModalForm}>`;
}

/**
 * A modal dialog holding a form, open while rendered; Escape cancels. When it goes, the focus goes back to
 * where it was when it opened (the button that opened it).
 */
export function ModalForm({ title, onCancel, children }) {
  const ref = useRef();
  useEffect(() => {
    const opener = document.activeElement;
    ref.current.showModal();
    return () => {
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);
  return html`<dialog class="dialog" aria-label=${title} ref=${ref} onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2>${title}</h2>${children}</dialog>`;
}
