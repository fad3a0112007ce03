// The channel list (#/channels): the seed's Channel Configuration. Filters by status and name; each row
// shows the status, the worst token health of its Pages and the secret rotation; admins select channels for
// an export ("Export selected", or "Export all" the filters keep) and start "Newly created".

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.js';
import { useCursorList } from '../lib/hooks.js';
import { Button, Field, Notice, Pager, Spinner, Table } from '../lib/ui.js';

/** The channel statuses, as the API names them, with the words the console shows. */
export const statusLabels = {
  pending: 'Pending',
  awaiting_verification: 'Awaiting verification',
  verified: 'Verified',
  active: 'Successful access',
  verification_expired: 'Verification expired',
  cancelled: 'Cancelled',
  failed: 'Failed',
  disabled: 'Disabled',
  deleting: 'Deleting',
};

const healthLabels = { healthy: 'Healthy', degraded: 'Degraded', reauth_required: 'New token needed' };
const rotationLabels = { none: 'None', pending: 'Pages need a new token', complete: 'Complete' };

/** A status as a badge whose words, not only its colour, say how it is. */
export function StatusBadge({ status }) {
  const tone = { active: 'good', failed: 'bad', verification_expired: 'bad', disabled: 'neutral', cancelled: 'neutral',
    deleting: 'neutral' }[status] || 'warn';
  return html`<span class="badge ${tone}">${statusLabels[status] || status}</span>`;
}

/** A token health as a badge; a channel without Pages has none. */
export function HealthBadge({ health }) {
  if (!health) return html`<span class="badge neutral">No Pages</span>`;
  const tone = { healthy: 'good', degraded: 'warn', reauth_required: 'bad' }[health];
  return html`<span class="badge ${tone}">${healthLabels[health] || health}</span>`;
}

/** A rotation status as a badge. */
export function RotationBadge({ status }) {
  const tone = { none: 'neutral', pending: 'warn', complete: 'good' }[status] || 'neutral';
  return html`<span class="badge ${tone}">${rotationLabels[status] || status}</span>`;
}

export default function Channels({ session }) {
  const [status, setStatus] = useState('');
  const [name, setName] = useState('');
  const [selected, setSelected] = useState(new Map()); // channel ID → name, kept across pages
  const [format, setFormat] = useState('csv');
  const [exporting, setExporting] = useState('');
  const [exportError, setExportError] = useState(null);
  const list = useCursorList(`/v1/channels${query({ status, name: name.trim(), limit: 50 })}`);

  const toggle = (ch, on) => {
    const next = new Map(selected);
    if (on) next.set(ch.id, ch.name);
    else next.delete(ch.id);
    setSelected(next);
  };

  const startExport = async (which) => {
    setExporting(which);
    setExportError(null);
    const body = { format };
    if (which === 'selected') body.channelIds = [...selected.keys()];
    const filter = {};
    if (which === 'all' && status) filter.status = status;
    if (which === 'all' && name.trim()) filter.name = name.trim();
    if (Object.keys(filter).length) body.filter = filter;
    try {
      const exp = await api('POST', '/v1/exports', body);
      location.hash = `#/exports/${encodeURIComponent(exp.id)}`;
    } catch (e) {
      setExportError(e);
      setExporting('');
    }
  };

  const columns = [];
  if (session.canWrite) {
    columns.push({ label: html`<span class="visually-hidden">Selected</span>`, class: 'select', render: (ch) => html`
      <input type="checkbox" aria-label=${`Select ${ch.name}`} checked=${selected.has(ch.id)}
        onChange=${(e) => toggle(ch, e.currentTarget.checked)} />` });
  }
  columns.push(
    { label: 'Channel Name', render: (ch) => html`<a href=${`#/channels/${encodeURIComponent(ch.id)}`}>${ch.name}</a>` },
    { label: 'Status', render: (ch) => html`<${StatusBadge} status=${ch.status} />` },
    { label: 'Token health', render: (ch) => html`<${HealthBadge} health=${ch.tokenHealth} />` },
    { label: 'Rotation', render: (ch) => html`<${RotationBadge} status=${ch.rotationStatus} />` },
    { label: 'App ID', render: (ch) => ch.appId },
  );

  const filtered = status || name.trim();
  return html`
    <h1>Channels</h1>
    <p>The tenant's Facebook channels. Open a channel for its configuration, Pages, secrets and audit log.</p>
    <form class="toolbar" role="search" aria-label="Filter channels" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Status" type="select" value=${status} onInput=${setStatus}
        options=${[{ value: '', label: 'All statuses' },
          ...Object.entries(statusLabels).map(([value, label]) => ({ value, label }))]} />
      <${Field} label="Name" type="search" value=${name} onInput=${setName} autocomplete="off" />
    </form>
    ${session.canWrite && html`<div class="toolbar">
      <${Button} kind="primary" onClick=${() => { location.hash = '#/new'; }}>Newly created</${Button}>
      <${Field} label="Export format" type="select" value=${format} onInput=${setFormat}
        options=${[{ value: 'csv', label: 'CSV' }, { value: 'xlsx', label: 'Excel (xlsx)' }, { value: 'jsonl', label: 'JSON lines' }]} />
      <${Button} onClick=${() => startExport('selected')} disabled=${selected.size === 0}
        busy=${exporting === 'selected'}>Export selected</${Button}>
      <${Button} onClick=${() => startExport('all')} busy=${exporting === 'all'}>Export all</${Button}>
      <span class="hint" role="status">${selected.size
        ? `${selected.size} channel${selected.size === 1 ? '' : 's'} selected.`
        : `No channel selected: Export all exports every channel${filtered ? ' the filters keep' : ''}.`}</span>
    </div>`}
    ${exportError && html`<${Notice} kind="error">The export could not start: ${exportError.message}
      ${Object.entries(exportError.fields).map(([k, v]) => html` (${k}: ${v})`)}</${Notice}>`}
    ${list.error && html`<${Notice} kind="error">The channels could not be loaded: ${list.error.message}</${Notice}>`}
    ${list.loading && !list.items.length ? html`<${Spinner} label="Loading channels…" />` : html`
      <${Table} caption="Channels" columns=${columns} rows=${list.items} rowKey=${(ch) => ch.id}
        empty=${filtered ? 'No channel matches the filters.' : 'No channel yet.'} />`}
    <${Pager} ...${list.pager} label="Channel pages" />
  `;
}
