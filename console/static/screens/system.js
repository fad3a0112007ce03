// system.js: System Management (#/system). The sysadmin uploads the Facebook authentication certificate,
// creates tenants and manages every API token; a tenant administrator sees only its tenant's API tokens, which
// is all the API lets it manage. A new token's value is shown once, with a copy button.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, get, getAll, query } from '../lib/api.js';
import { useCreate, useCursorList, useLoad, useSubmit } from '../lib/hooks.js';
import {
  Button, ConfirmDialog, CopyValue, Field, Form, Notice, Pager, Spinner, Table, fieldError, formatTime,
} from '../lib/ui.js';

const roleNames = { sysadmin: 'System administrator', 'tenant-admin': 'Tenant administrator', 'tenant-viewer': 'Viewer' };

export default function System({ session }) {
  if (session.role === 'sysadmin') return html`<${SystemManagement} session=${session} />`;
  if (session.role === 'tenant-admin') {
    return html`
      <h1>API tokens</h1>
      <p>The API tokens of this tenant: they sign in to this console and the REST API.</p>
      <${Tokens} session=${session} tenantItems=${[]} />`;
  }
  return html`<h1>System</h1>
    <${Notice} kind="warning">A viewer token cannot see the system settings or the API tokens.</${Notice}>`;
}

/** The sysadmin's screen: certificates, tenants, and every tenant's API tokens. */
function SystemManagement({ session }) {
  // Every tenant, for the token form and for tenant names in the token list.
  const tenants = useLoad(() => getAll('/v1/tenants'), []);
  const tenantItems = (tenants.data && tenants.data.items) || [];
  return html`
    <h1>System</h1>
    <p>System management: the Facebook authentication certificate, the tenants, and the API tokens that sign in to
      this console and the REST API.</p>
    <${Certificates} />
    <${Tenants} onCreated=${tenants.reload} />
    <${Tokens} session=${session} tenantItems=${tenantItems} />`;
}

/** A list's load error, or its first load, or nothing. */
function ListState({ list, what }) {
  if (list.error) return html`<${Notice} kind="error">The ${what} could not be loaded: ${list.error.message}</${Notice}>`;
  if (list.loading && list.items.length === 0) return html`<${Spinner} />`;
  return null;
}

/** Certificates that expire within this many days are marked. */
const nearExpiryDays = 30;

/** A certificate's validity as a badge: expired, expiring soon, or valid. */
function CertificateState({ cert }) {
  const days = Math.floor(cert.expiresInSeconds / 86400);
  if (cert.expired) return html`<span class="badge bad">Expired</span>`;
  if (days < nearExpiryDays) {
    return html`<span class="badge warn">Expires ${days === 0 ? 'today' : `in ${days} ${days === 1 ? 'day' : 'days'}`}</span>`;
  }
  return html`<span class="badge good">Valid</span>`;
}

function Certificates() {
  const certs = useLoad(() => get('/v1/system/certificates'), []);
  const items = (certs.data && certs.data.items) || [];
  const [pem, setPem] = useState('');
  const [added, setAdded] = useState(null);
  const [fileNote, setFileNote] = useState('');
  const choose = async (e) => {
    const file = e.currentTarget.files[0];
    if (!file) return;
    if (file.size > 64 * 1024) {
      setFileNote(`${file.name} is larger than 64 KiB: it is not a certificate file.`);
      return;
    }
    setPem(await file.text());
    setFileNote(`${file.name} is read into the field above; check it and upload.`);
  };
  const { busy, error, run: submit } = useSubmit(async () => {
    setAdded(null);
    setAdded(await api('POST', '/v1/system/certificates', { pem }));
    setPem('');
    setFileNote('');
    certs.reload();
  });
  const usable = items.some((c) => !c.expired);
  return html`<section aria-labelledby="certs-h">
    <h2 id="certs-h">Certificates</h2>
    <p>Facebook's authentication certificate must be uploaded before a tenant administrator can configure a
      Facebook channel.</p>
    ${certs.error && html`<${Notice} kind="error">The certificates could not be loaded: ${certs.error.message}</${Notice}>`}
    ${certs.loading && !certs.data && html`<${Spinner} />`}
    ${certs.data && !usable && html`<${Notice} kind="warning">No valid certificate is uploaded: channels cannot be
      configured until one is.</${Notice}>`}
    <${Table} caption="Uploaded certificates" rows=${items} rowKey=${(c) => c.id} empty="No certificate is uploaded."
      columns=${[
        { label: 'Subject', render: (c) => c.subject },
        { label: 'Issuer', render: (c) => c.issuer },
        { label: 'Valid from', render: (c) => formatTime(c.notBefore) },
        { label: 'Expires', render: (c) => html`${formatTime(c.notAfter)} <${CertificateState} cert=${c} />` },
        { label: 'SHA-256 fingerprint', render: (c) => html`<code class="hash">${c.sha256}</code>` },
        { label: 'Uploaded', render: (c) => formatTime(c.createdAt) },
      ]} />
    <h3>Upload a certificate</h3>
    ${added && html`<${Notice} kind="success">The certificate of ${added.subject} is uploaded;
      it expires on ${formatTime(added.notAfter)}.</${Notice}>`}
    <${Form} onSubmit=${submit} submitLabel="Upload certificate" busy=${busy} error=${error}
      labels=${{ pem: 'Certificate (PEM)' }}>
      <${Field} label="Certificate (PEM)" type="textarea" rows="6" class="wide" spellcheck="false" value=${pem}
        onInput=${setPem} hint="Paste the certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, or choose its file below."
        error=${fieldError(error, 'pem')} />
      <div class="field">
        <label for="cert-file">Certificate file</label>
        <input id="cert-file" type="file" accept=".pem,.crt,.cer,application/x-pem-file" onChange=${choose}
          aria-describedby="cert-file-note" />
        <p id="cert-file-note" class="hint" role="status">${fileNote}</p>
      </div>
    </${Form}>
  </section>`;
}

function Tenants({ onCreated }) {
  const list = useCursorList('/v1/tenants');
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const { busy, error, run: submit } = useSubmit(async () => {
    setCreated(null);
    setCreated(await api('POST', '/v1/tenants', { name }));
    setName('');
    list.reload();
    onCreated();
  });
  return html`<section aria-labelledby="tenants-h">
    <h2 id="tenants-h">Tenants</h2>
    <${ListState} list=${list} what="tenants" />
    <${Table} rows=${list.items} rowKey=${(t) => t.id} empty="No tenants yet."
      columns=${[
        { label: 'Name', render: (t) => t.name },
        { label: 'ID', render: (t) => html`<code>${t.id}</code>` },
        { label: 'Created', render: (t) => formatTime(t.createdAt) },
      ]} />
    <${Pager} ...${list.pager} label="Tenant pages" />
    <h3>New tenant</h3>
    ${created && html`<${Notice} kind="success">Tenant ${created.name} is created. Create a tenant administrator
      token for it under API tokens.</${Notice}>`}
    <${Form} onSubmit=${submit} submitLabel="Create tenant" busy=${busy} error=${error} labels=${{ name: 'Tenant name' }}>
      <${Field} label="Tenant name" required maxLength="100" value=${name} onInput=${setName}
        error=${fieldError(error, 'name')} />
    </${Form}>
  </section>`;
}

/** A token's state as a badge. */
function TokenState({ status }) {
  const tone = { active: 'good', expired: 'warn', revoked: 'bad' }[status] || 'neutral';
  const name = { active: 'Active', expired: 'Expired', revoked: 'Revoked' }[status] || status;
  return html`<span class="badge ${tone}">${name}</span>`;
}

/** The API tokens: for the sysadmin every tenant's (narrowed to one by the filter), else the caller's tenant's. */
function Tokens({ session, tenantItems }) {
  const sysadmin = session.role === 'sysadmin';
  const [tenantFilter, setTenantFilter] = useState('');
  const list = useCursorList(`/v1/tokens${query({ tenantId: tenantFilter })}`);
  const [revoking, setRevoking] = useState(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState(null);
  const tenantName = (id) => (tenantItems.find((t) => t.id === id) || { name: id }).name;
  const tenantOptions = tenantItems.map((t) => ({ value: t.id, label: t.name }));

  const revoke = async () => {
    setRevokeBusy(true);
    setRevokeError(null);
    try {
      await api('DELETE', `/v1/tokens/${encodeURIComponent(revoking.id)}`);
      list.reload();
    } catch (e) {
      setRevokeError(e);
    }
    setRevokeBusy(false);
    setRevoking(null);
  };

  const columns = [
    { label: 'Name', render: (t) => t.name },
    { label: 'Role', render: (t) => roleNames[t.role] || t.role },
    sysadmin && { label: 'Tenant', render: (t) => (t.tenantId ? tenantName(t.tenantId) : '—') },
    { label: 'Status', render: (t) => html`<${TokenState} status=${t.status} />` },
    { label: 'Expires', render: (t) => (t.expiresAt ? formatTime(t.expiresAt) : 'Never') },
    { label: 'Last used', render: (t) => (t.lastUsedAt ? formatTime(t.lastUsedAt) : 'Never') },
    { label: 'Created', render: (t) => formatTime(t.createdAt) },
    { label: 'Actions', render: (t) => (t.status === 'revoked'
      ? html`<span class="muted">Revoked ${formatTime(t.revokedAt)}</span>`
      : html`<${Button} kind="danger" onClick=${() => setRevoking(t)}
          aria-label=${`Revoke token ${t.name}`}>Revoke</${Button}>`) },
  ].filter(Boolean);

  return html`<section aria-labelledby="tokens-h">
    <h2 id="tokens-h">${sysadmin ? 'API tokens' : 'Tokens of this tenant'}</h2>
    ${sysadmin && html`<div class="toolbar">
      <${Field} label="Show the tokens of" type="select" value=${tenantFilter} onInput=${setTenantFilter}
        options=${[{ value: '', label: 'Every tenant and the system' }, ...tenantOptions]} />
    </div>`}
    ${revokeError && html`<${Notice} kind="error">The token could not be revoked: ${revokeError.message}</${Notice}>`}
    <${ListState} list=${list} what="API tokens" />
    <${Table} caption="API tokens, oldest first" rows=${list.items} rowKey=${(t) => t.id} empty="No API tokens."
      columns=${columns} />
    <${Pager} ...${list.pager} label="Token pages" />
    <${CreateToken} sysadmin=${sysadmin} tenantOptions=${tenantOptions} onCreated=${list.reload} />
    <${ConfirmDialog} open=${!!revoking} title=${`Revoke token ${revoking ? revoking.name : ''}?`}
      confirmLabel="Revoke token" danger busy=${revokeBusy} onConfirm=${revoke} onCancel=${() => setRevoking(null)}>
      <p>Every request with this token is refused from now on. A revoked token cannot be used again.</p>
      ${revoking && revoking.id === session.me.id && html`<p><strong>This is the token you are signed in with: you
        will be signed out.</strong></p>`}
    </${ConfirmDialog}>
  </section>`;
}

const tokenRoleOptions = [
  { value: 'tenant-admin', label: 'Tenant administrator' },
  { value: 'tenant-viewer', label: 'Viewer (read only)' },
];

/** The form that creates a token, and the token's value, shown once, after it is created. */
function CreateToken({ sysadmin, tenantOptions, onCreated }) {
  const form = useCreate('/v1/tokens', { name: '', role: 'tenant-admin', tenantId: '', expiresAt: '' }, (v) => {
    const expires = v.expiresAt ? new Date(v.expiresAt) : null;
    if (expires && Number.isNaN(expires.getTime())) {
      throw { message: 'The request has invalid fields.', fields: { expiresAt: 'is not a date and time' } };
    }
    const body = { name: v.name, role: v.role, expiresAt: expires ? expires.toISOString() : undefined };
    if (sysadmin) body.tenantId = v.tenantId;
    return body;
  }, () => onCreated());
  const { values, set, error, busy, created, submit } = form;
  return html`<h3>New API token</h3>
    ${created && html`<div class="notice warning token-once" role="alert">
      <p><strong>Copy the token now: this is the only time it is shown.</strong> It cannot be shown again; if it is
        lost, revoke it and create another. Keep it as secret as a password.</p>
      <${CopyValue} label=${`API token ${created.name}`} value=${created.token} copyLabel="Copy token" />
      <${Button} onClick=${form.clear}>I have copied the token</${Button}>
    </div>`}
    <${Form} onSubmit=${submit} submitLabel="Create token" busy=${busy} error=${error}
      labels=${{ name: 'Token name', role: 'Role', tenantId: 'Tenant', expiresAt: 'Expires' }}>
      <div class="split">
        <${Field} label="Token name" required maxLength="100" value=${values.name} onInput=${set('name')}
          hint="Who or what uses it, e.g. console-alice." error=${fieldError(error, 'name')} />
        <${Field} label="Role" type="select" options=${tokenRoleOptions} value=${values.role} onInput=${set('role')}
          hint="A viewer reads only. System administrator tokens are created on the server." error=${fieldError(error, 'role')} />
        ${sysadmin && html`<${Field} label="Tenant" type="select" required value=${values.tenantId}
          onInput=${set('tenantId')} options=${[{ value: '', label: 'Choose a tenant' }, ...tenantOptions]}
          hint=${tenantOptions.length === 0 ? 'Create a tenant first.' : ''} error=${fieldError(error, 'tenantId')} />`}
        <${Field} label="Expires" type="datetime-local" value=${values.expiresAt} onInput=${set('expiresAt')}
          hint="Optional, in your local time; empty for a token that does not expire."
          error=${fieldError(error, 'expiresAt')} />
      </div>
    </${Form}>`;
}
