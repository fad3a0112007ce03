// exports.js: the export tasks of the seed's "Export channel information": the list (#/exports), where an
// administrator may also export every channel, and one task (#/exports/:exportId), polled while it runs,
// with its Status, progress, files, Download and cancel.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, download, get } from '../lib/api.js';
import { useCursorList, useLoad, usePolling, useSubmit } from '../lib/hooks.js';
import {
  Button, ConfirmDialog, Field, Form, Notice, Pager, Progress, Spinner, Table, fieldError, formatTime,
} from '../lib/ui.js';

export default function Exports({ params, session }) {
  return params.exportId
    ? html`<${ExportTask} id=${params.exportId} session=${session} />`
    : html`<${ExportList} session=${session} />`;
}

/** The Status of an export in the seed's words. */
const statusNames = {
  pending: 'Pending', running: 'Running', success: 'Success', failed: 'Failed', cancelled: 'Cancelled',
  expired: 'Expired',
};

const statusTone = {
  pending: 'neutral', running: 'neutral', success: 'good', failed: 'bad', cancelled: 'neutral', expired: 'warn',
};

const formatOptions = [
  { value: 'csv', label: 'CSV' },
  { value: 'xlsx', label: 'Excel (XLSX)' },
  { value: 'jsonl', label: 'JSON Lines' },
];

/** Whether the export's workflow may still change it by itself. */
const active = (e) => e.status === 'pending' || e.status === 'running';

function StatusBadge({ status }) {
  return html`<span class="badge ${statusTone[status] || 'neutral'}">${statusNames[status] || status}</span>`;
}

/** What the export holds: every channel, the channels picked, or those a filter matched. */
function selectionText(sel) {
  const ids = sel.channelIds || [];
  const filter = [sel.status && `status ${sel.status}`, sel.name && `name containing "${sel.name}"`].filter(Boolean);
  const base = ids.length ? `${ids.length} selected ${ids.length === 1 ? 'channel' : 'channels'}` : 'All channels';
  return filter.length ? `${base} with ${filter.join(' and ')}` : base;
}

/** "3 of 5 channels" for an export's progress. */
function progressText(e) {
  const { recordsDone, total } = e.progress;
  if (e.status === 'pending') return `Waiting to start; ${total} ${total === 1 ? 'channel' : 'channels'} to export`;
  return `${recordsDone} of ${total} ${total === 1 ? 'channel' : 'channels'} exported`;
}

/** The value and max of an export's progress bar; undefined value (indeterminate) while it waits. */
function progressBar(e) {
  const { recordsDone, total } = e.progress;
  if (e.status === 'pending') return { value: undefined, max: 1 };
  if (total === 0) return { value: e.status === 'success' ? 1 : 0, max: 1 };
  return { value: recordsDone, max: total };
}

/** The list of export tasks, newest first, polled while one of those shown is still running. */
function ExportList({ session }) {
  const list = useCursorList('/v1/exports');
  usePolling(list.reload, 2000, list.items.some(active));
  return html`
    <h1>Exports</h1>
    <p>Exports hold the basic and robot configuration of the channels, never a password or a key. An export of
      more than 2,000 channels is split into files of 2,000; the download is one zip. To export some channels only,
      select them on the <a href="#/channels">channel list</a>.</p>
    ${session.canWrite && html`<${ExportAll} />`}
    <h2>Export tasks</h2>
    ${list.error && html`<${Notice} kind="error">The exports could not be loaded: ${list.error.message}</${Notice}>`}
    ${list.loading && list.items.length === 0 && !list.error ? html`<${Spinner} />` : html`
      <${Table} caption="Export tasks, newest first" rows=${list.items} rowKey=${(e) => e.id}
        empty="No exports yet."
        columns=${[
          { label: 'Export', render: (e) => html`<a href=${`#/exports/${encodeURIComponent(e.id)}`}>${e.id}</a>` },
          { label: 'Status', render: (e) => html`<${StatusBadge} status=${e.status} />` },
          { label: 'Channels', render: (e) => selectionText(e.selection) + ` (${e.progress.total})` },
          { label: 'Format', render: (e) => e.format.toUpperCase() },
          { label: 'Created', render: (e) => formatTime(e.createdAt) },
          { label: 'Progress', render: (e) => {
            const bar = progressBar(e);
            return html`<span class="export-progress">
              <progress value=${bar.value} max=${bar.max} aria-label=${`Progress of export ${e.id}`}></progress>
              <span>${e.progress.recordsDone} / ${e.progress.total}</span></span>`;
          } },
        ]} />
      <${Pager} ...${list.pager} label="Export pages" />`}`;
}

/** "Export all channels": starts an export of every channel and opens it. */
function ExportAll() {
  const [format, setFormat] = useState('csv');
  const { busy, error, run: submit } = useSubmit(async () => {
    const e = await api('POST', '/v1/exports', { format });
    location.hash = `#/exports/${encodeURIComponent(e.id)}`;
  });
  return html`<section aria-labelledby="export-all-h">
    <h2 id="export-all-h">Export all channels</h2>
    <${Form} onSubmit=${submit} submitLabel="Export all channels" busy=${busy} error=${error}
      labels=${{ format: 'Format' }}>
      <${Field} label="Format" type="select" options=${formatOptions} value=${format} onInput=${setFormat}
        error=${fieldError(error, 'format')} />
    </${Form}>
  </section>`;
}

/** One export task: polled every second while pending or running. */
function ExportTask({ id, session }) {
  const path = `/v1/exports/${encodeURIComponent(id)}`;
  const task = useLoad(() => get(path), [path]);
  const e = task.data;
  usePolling(task.reload, 1000, !!e && active(e));
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState('');
  const [actionError, setActionError] = useState(null);

  const cancel = async () => {
    setBusy('cancel');
    setActionError(null);
    try {
      task.setData(await api('POST', `${path}/cancel`));
    } catch (err) {
      setActionError(err);
      task.reload();
    }
    setBusy('');
    setConfirming(false);
  };
  const save = async (what, file) => {
    setBusy(what);
    setActionError(null);
    try {
      await (file ? download(`${path}/files/${encodeURIComponent(file)}`, file) : download(`${path}/download`, `export-${id}.zip`));
    } catch (err) {
      setActionError(err);
      task.reload();
    }
    setBusy('');
  };

  const heading = html`<p><a href="#/exports">All exports</a></p><h1 class="wrap-id">Export ${id}</h1>`;
  if (!e) {
    return html`${heading}${task.error
      ? html`<${Notice} kind="error">The export could not be loaded: ${task.error.message}</${Notice}>`
      : html`<${Spinner} />`}`;
  }
  const bar = progressBar(e);
  const downloadable = e.status === 'success';
  const cancellable = session.canWrite && (active(e) || e.status === 'success');
  // A successful export is withdrawn by the same cancel: for people, that deletes its files.
  const cancelText = e.status === 'success' ? 'Delete files' : 'Cancel export';
  return html`${heading}
    <p class="export-status" role="status">Status: <${StatusBadge} status=${e.status} /></p>
    <${Progress} label=${progressText(e)} value=${bar.value} max=${bar.max} />
    ${e.status === 'failed' && html`<${Notice} kind="error">The export failed${e.errorCode ? ` (${e.errorCode})` : ''}.
      Start a new export to try again.</${Notice}>`}
    ${e.status === 'expired' && html`<${Notice} kind="warning">The files of this export were deleted when it expired.
      Export again to get a new download.</${Notice}>`}
    ${e.status === 'cancelled' && html`<${Notice}>This export was cancelled; its files are deleted.</${Notice}>`}
    ${actionError && html`<${Notice} kind="error">${actionError.message}</${Notice}>`}
    ${task.error && html`<${Notice} kind="warning">The export could not be refreshed: ${task.error.message}</${Notice}>`}
    <div class="actions">
      ${downloadable && html`<${Button} kind="primary" busy=${busy === 'zip'} onClick=${() => save('zip')}>Download</${Button}>`}
      ${cancellable && html`<${Button} kind="danger" onClick=${() => setConfirming(true)}>${cancelText}</${Button}>`}
    </div>
    <h2>Details</h2>
    <dl class="props">
      <dt>Channels</dt><dd>${selectionText(e.selection)} (${e.progress.total})</dd>
      <dt>Format</dt><dd>${e.format.toUpperCase()}</dd>
      <dt>Created</dt><dd>${formatTime(e.createdAt)}</dd>
      ${e.startedAt && html`<dt>Started</dt><dd>${formatTime(e.startedAt)}</dd>`}
      ${e.finishedAt && html`<dt>Finished</dt><dd>${formatTime(e.finishedAt)}</dd>`}
      ${e.expiresAt && html`<dt>Files kept until</dt><dd>${formatTime(e.expiresAt)}</dd>`}
      <dt>Created by</dt><dd>${actorText(e.createdBy)}</dd>
    </dl>
    ${e.files.length > 0 && html`<h2>Files</h2>
      <${Table} caption="Files of the export (select a name to download it alone; the zip holds them all with manifest.json)" rows=${e.files}
        rowKey=${(f) => f.name}
        columns=${[
          { label: 'File', render: (f) => html`<${Button} kind="link" busy=${busy === f.name}
            onClick=${() => save(f.name, f.name)}>${f.name}</${Button}>` },
          { label: 'Channels', render: (f) => f.records },
          { label: 'Size', render: (f) => sizeText(f.bytes) },
          { label: 'SHA-256', render: (f) => html`<code class="hash">${f.sha256}</code>` },
        ]} />`}
    ${cancellable && html`<${ConfirmDialog} open=${confirming} title=${e.status === 'success' ? 'Delete the files of this export?' : 'Cancel this export?'}
      confirmLabel=${cancelText} cancelLabel="Keep the export" danger busy=${busy === 'cancel'} onConfirm=${cancel}
      onCancel=${() => setConfirming(false)}>
      <p>${e.status === 'success'
        ? 'The export is cancelled and its files are deleted now: they can no longer be downloaded.'
        : 'It stops, and what it wrote so far is deleted.'}</p>
    </${ConfirmDialog}>`}`;
}

/** Who started an export: a token, by its ID and role, or an operator's command. */
function actorText(a) {
  if (!a) return '';
  if (a.tokenId) return `API token ${a.tokenId}${a.role ? ` (${a.role})` : ''}`;
  return a.command ? `Command on the server: ${a.command}` : a.type;
}

/** A byte count for people: 1.2 MB. */
function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
