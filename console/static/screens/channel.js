// The channel page (#/channels/:channelId): its configuration (read, and Edit configuration for admins), the
// onboarding's live state (and its cancelling), the Pages with Configuration (a new Token Secret per Page), the
// App Secret's Edit with its overlap window and revoke-previous, the rotation (which Pages still need a new
// token), the channel's audit log, and deleting the channel.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, get } from '../lib/api.js';
import { useCursorList, useLoad, usePolling, useSubmit } from '../lib/hooks.js';
import { Button, ConfirmDialog, Field, Form, Notice, Pager, Spinner, Table, fieldError, formatTime } from '../lib/ui.js';
import { BasicFields, RobotFields, changes, directoryLists, draftOf, labels, loadDirectory, onRows, toBody } from './channel-form.js';
import { ModalForm, OnboardingPanel, PagesPanel, pollMillis } from './channel-parts.js';
import { HealthBadge, RotationBadge, StatusBadge } from './channels.js';

export default function Channel({ params, session }) {
  const path = `/v1/channels/${encodeURIComponent(params.channelId)}`;
  const channel = useLoad(() => get(path), [path]);
  const rotation = useLoad(() => get(`${path}/rotation`), [path]);
  const [setup, setSetup] = useState(null);
  const [changes, setChanges] = useState(0); // remounts the audit log after each change made here
  const ch = channel.data;
  const reload = () => {
    setChanges((n) => n + 1);
    return Promise.all([channel.reload(), rotation.reload()]);
  };
  if (!ch) {
    return html`<h1>Channel</h1>
      ${channel.error ? html`<${Notice} kind="error">The channel could not be loaded: ${channel.error.message}
        <a href="#/channels">Back to the channel list</a></${Notice}>` : html`<${Spinner} label="Loading the channel…" />`}`;
  }
  const missing = new Set((rotation.data && rotation.data.missingPageIds) || []);
  return html`
    <h1>Channel ${ch.name}</h1>
    <p><a href="#/channels">Channels</a> › ${ch.name}${' · '}<a
      href=${`#/channels/${encodeURIComponent(ch.id)}/conversations`}>Conversations of ${ch.name}</a></p>
    <dl class="props">
      <dt>Status</dt><dd><${StatusBadge} status=${ch.status} /></dd>
      <dt>Token health</dt><dd><${HealthBadge} health=${ch.tokenHealth} /></dd>
      <dt>Rotation</dt><dd><${RotationBadge} status=${ch.rotationStatus} /></dd>
    </dl>
    ${ch.warnings.map((w) => html`<${Notice} kind="warning">${w}</${Notice}>`)}
    ${channel.error && html`<${Notice} kind="error">${channel.error.message}</${Notice}>`}
    <${Configuration} ch=${ch} canWrite=${session.canWrite} onSaved=${(saved) => { channel.setData(saved); setChanges((n) => n + 1); }} />
    <${OnboardingPanel} channel=${ch} setup=${setup} onSetup=${setSetup} canWrite=${session.canWrite}
      onChange=${(o) => { if (o.status !== ch.status) reload(); }} />
    <${Secrets} ch=${ch} path=${path} rotation=${rotation} canWrite=${session.canWrite} onChange=${reload} />
    <${PagesPanel} channelId=${ch.id} canWrite=${session.canWrite} configure missing=${missing} onChange=${reload} />
    <${Audit} key=${changes} path=${path} />
    ${session.canWrite && ch.status !== 'deleting' && html`<${DeleteChannel} ch=${ch} path=${path} />`}
  `;
}

/** Delete the channel: after the confirmation, DELETE, then back to the list, where it shows as Deleting. */
function DeleteChannel({ ch, path }) {
  const [asking, setAsking] = useState(false);
  const { busy, error, run: remove } = useSubmit(async () => {
    try {
      await api('DELETE', path);
    } finally {
      setAsking(false);
    }
    location.hash = '#/channels';
  });
  return html`<section aria-labelledby="delete-heading">
    <h2 id="delete-heading">Delete the channel</h2>
    ${error && html`<${Notice} kind="error">The channel could not be deleted: ${error.message}</${Notice}>`}
    <div class="actions"><${Button} kind="danger" onClick=${() => setAsking(true)}>Delete channel ${ch.name}</${Button}></div>
    <${ConfirmDialog} open=${asking} title=${`Delete channel ${ch.name}?`} confirmLabel="Delete" danger busy=${busy}
      onConfirm=${remove} onCancel=${() => setAsking(false)}>
      <p>Its onboarding stops, every Page is unsubscribed from the app and removed, and the channel is deleted with
        its secrets. Meta's webhooks for it are stored until its Pages are disconnected. This cannot be undone.</p>
    </${ConfirmDialog}>
  </section>`;
}

const algorithmNames = { sha256: 'SHA-256', sha1: 'SHA-1' };
const onOff = (on) => (on ? 'On' : 'Off');

/** The channel's configuration, read-only; admins switch to the edit form (PATCH). */
function Configuration({ ch, canWrite, onSaved }) {
  const [editing, setEditing] = useState(false);
  const directory = useLoad(loadDirectory, []);
  const lists = directoryLists(directory.data);
  const nameOf = (items, id) => (id ? (items.find((it) => it.id === id) || { name: id }).name : '—');
  if (editing) {
    return html`<${EditConfiguration} ch=${ch} lists=${lists} onCancel=${() => setEditing(false)}
      onSaved=${(saved) => { setEditing(false); onSaved(saved); }} />`;
  }
  const b = ch.basic;
  const r = ch.robot;
  const segments = (list) => (list && list.length ? list.map((s) => `${s.start}–${s.end}`).join(', ') : 'None');
  return html`<section aria-labelledby="config-heading">
    <h2 id="config-heading">Configuration</h2>
    <div class="split">
      <div>
        <h3>Channel information</h3>
        <dl class="props">
          <dt>Channel Selection</dt><dd>Facebook</dd>
          <dt>App ID</dt><dd>${ch.appId}</dd>
          <dt>App Secret</dt><dd>${ch.appSecret.set ? `Set (fingerprint ${ch.appSecret.fingerprint}, ${formatTime(ch.appSecret.updatedAt)})` : 'Not set'}</dd>
          <dt>Interconnection Encryption Algorithm</dt><dd>${algorithmNames[ch.algorithm] || ch.algorithm}</dd>
          <dt>Callback URL</dt><dd>${ch.callbackUrl}</dd>
        </dl>
        <h3>Robot configuration</h3>
        <dl class="props">
          <dt>Connecting to the Intelligent Robot</dt><dd>${onOff(r.intelligentRobot.enabled)}${r.intelligentRobot.enabled
            && ` (${r.intelligentRobot.name}, access code ${r.intelligentRobot.accessCode})`}</dd>
          <dt>Keyword for Transfer to Agent</dt><dd>${(b.transferKeywords || []).join(', ') || 'None'}</dd>
          <dt>Access Robot Assistant</dt><dd>${onOff(r.robotAssistant.enabled)}${r.robotAssistant.enabled
            && ` (access code ${r.robotAssistant.accessCode}, silent agents ${nameOf(lists.queues, r.robotAssistant.silentAgentSkillQueueId)})`}</dd>
        </dl>
      </div>
      <div>
        <h3>Basic configuration</h3>
        <dl class="props">
          <dt>Channel Name</dt><dd>${ch.name}</dd>
          <dt>OU Configuration</dt><dd>${nameOf(lists.ous, b.ouId)}</dd>
          <dt>Skill Queue</dt><dd>${nameOf(lists.queues, b.skillQueueId)}</dd>
          <dt>Workday</dt><dd>${segments(b.workTime.workday)}</dd>
          <dt>Non-workday</dt><dd>${segments(b.workTime.nonWorkday)}</dd>
          <dt>Service calendar</dt><dd>${nameOf(lists.calendars, b.serviceCalendarId)}</dd>
          <dt>Non-Working Time Notification</dt><dd>${b.nonWorkingTimeNotice || 'None'}</dd>
          <dt>Last Agent Mode</dt><dd>${onOff(b.lastAgentMode.enabled)}${b.lastAgentMode.enabled && `, ${b.lastAgentMode.windowMinutes} min`}</dd>
          <dt>Session End Due to No Customer Reply</dt><dd>${onOff(b.noCustomerReplyEnd.enabled)}${b.noCustomerReplyEnd.enabled
            && `, after ${b.noCustomerReplyEnd.timeoutMinutes} min${b.noCustomerReplyEnd.workTimeOnly ? ' of working time' : ''}`}</dd>
          <dt>Session Transfer Due to No Agent Reply</dt><dd>${onOff(b.noAgentReplyTransfer.enabled)}${b.noAgentReplyTransfer.enabled
            && `, after ${b.noAgentReplyTransfer.timeoutSeconds} s to ${nameOf(lists.queues, b.noAgentReplyTransfer.targetSkillQueueId)}`}</dd>
          <dt>Session Transfer</dt><dd>${onOff(b.sessionTransfer.enabled)}${b.sessionTransfer.enabled
            && `, to ${(b.sessionTransfer.targetSkillQueueIds || []).map((id) => nameOf(lists.queues, id)).join(', ')}`}</dd>
        </dl>
      </div>
    </div>
    ${canWrite && html`<div class="actions"><${Button} onClick=${() => setEditing(true)}>Edit configuration</${Button}></div>`}
  </section>`;
}

/** The PATCH body of a draft with every field: its name, basic and robot configuration. */
function configurationOf(draft) {
  const { name, basic, robot } = toBody(draft);
  return { name, basic, robot };
}

/** The edit form of the name, basic and robot configuration; the API checks every rule again. */
function EditConfiguration({ ch, lists, onCancel, onSaved }) {
  const [d, setDraft] = useState(() => draftOf(ch));
  // The configuration as the form opened on it, kept though the channel page reloads ch meanwhile.
  const [opened] = useState(() => configurationOf(draftOf(ch)));
  const set = (key) => (value) => setDraft((old) => ({ ...old, [key]: value }));
  const { busy, error, run: save } = useSubmit(async () => {
    // Only what the user changed: a field someone else changed since the form opened keeps their value.
    try {
      onSaved(await api('PATCH', `/v1/channels/${encodeURIComponent(ch.id)}`, changes(opened, configurationOf(d))));
    } catch (e) {
      throw onRows(e, d);
    }
  });
  const err = (p) => fieldError(error, p);
  return html`<section aria-labelledby="config-heading">
    <h2 id="config-heading">Edit configuration</h2>
    <${Form} onSubmit=${save} submitLabel="Save configuration" busy=${busy} error=${error} labels=${labels}
      actions=${html`<${Button} onClick=${onCancel}>Cancel</${Button}>`}>
      <h3>Basic configuration</h3>
      <${BasicFields} d=${d} set=${set} err=${err} directory=${lists} />
      <h3>Robot configuration</h3>
      <${RobotFields} d=${d} set=${set} err=${err} errors=${error && error.fields} directory=${lists} />
    </${Form}>
  </section>`;
}

/** The App Secret (Edit, with the overlap window; revoke the previous secret) and the rotation's state. */
function Secrets({ ch, path, rotation, canWrite, onChange }) {
  const [editing, setEditing] = useState(false);
  const [revoking, setRevoking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const rot = rotation.data;
  usePolling(rotation.reload, pollMillis * 5, !!rot && rot.status === 'pending');
  const revoke = async () => {
    setBusy(true);
    try {
      await api('POST', `${path}/rotation/revoke-previous`);
      setResult({ kind: 'success', text: 'The previous App Secret is no longer accepted.' });
      await onChange();
    } catch (e) {
      setResult({ kind: 'error', text: e.message });
    }
    setBusy(false);
    setRevoking(false);
  };
  return html`<section aria-labelledby="secrets-heading">
    <h2 id="secrets-heading">App Secret and rotation</h2>
    <p>If the app secret and token secret are changed on Facebook, Edit the App Secret here, then give each Page its
      new Token Secret (Configuration, under Pages).</p>
    ${result && html`<${Notice} kind=${result.kind}>${result.text}</${Notice}>`}
    ${rotation.error && html`<${Notice} kind="error">The rotation could not be read: ${rotation.error.message}</${Notice}>`}
    ${rot && html`<dl class="props">
      <dt>Rotation</dt><dd><${RotationBadge} status=${rot.status} /></dd>
      ${rot.startedAt && html`<dt>App Secret changed</dt><dd>${formatTime(rot.startedAt)}${rot.startedBy
        && rot.startedBy.tokenId && ` by token ${rot.startedBy.tokenId}`}</dd>`}
      ${rot.previousSecretAcceptedUntil && html`<dt>Previous App Secret accepted until</dt>
        <dd>${formatTime(rot.previousSecretAcceptedUntil)}</dd>`}
      ${rot.status !== 'none' && html`<dt>Pages with a new token</dt><dd>${rot.pagesDone.join(', ') || 'None yet'}</dd>
        <dt>Pages that still need a new token</dt><dd>${rot.pagesMissing === 0 ? 'None'
          : `${rot.pagesMissing}: ${rot.missingPageIds.join(', ')}`}</dd>`}
      ${rot.reminders > 0 && html`<dt>Reminders</dt><dd>${rot.reminders}, the last ${formatTime(rot.remindedAt)}</dd>`}
    </dl>`}
    ${canWrite && html`<div class="actions">
      <${Button} onClick=${() => { setEditing(true); setResult(null); }}>Edit</${Button}>
      ${rot && rot.previousSecretAcceptedUntil && html`<${Button} kind="danger" onClick=${() => setRevoking(true)}>
        Revoke the previous App Secret</${Button}>`}
    </div>`}
    ${editing && html`<${AppSecretDialog} path=${path} name=${ch.name} onCancel=${() => setEditing(false)}
      onDone=${async (r) => {
        setEditing(false);
        setResult({ kind: 'success', text: r.pagesMissing > 0
          ? `The App Secret is changed. ${r.pagesMissing} Page(s) still need a new Token Secret: use Configuration under Pages.`
          : 'The App Secret is changed.' });
        await onChange();
      }} />`}
    ${canWrite && html`<${ConfirmDialog} open=${revoking} title="Revoke the previous App Secret?" confirmLabel="Revoke" danger busy=${busy}
      onConfirm=${revoke} onCancel=${() => setRevoking(false)}>
      <p>Webhooks signed with the previous App Secret are refused from now on. Do this once Meta signs with the new
        one, or at once if the previous secret leaked.</p>
    </${ConfirmDialog}>`}
  </section>`;
}

/** Edit: the channel's new App Secret and how long the previous one stays accepted. */
function AppSecretDialog({ path, name, onCancel, onDone }) {
  const [secret, setSecret] = useState('');
  const [hours, setHours] = useState('24');
  const { busy, error, run: submit } = useSubmit(async () => {
    const h = Number(hours);
    const overlapSeconds = hours.trim() !== '' && Number.isFinite(h) ? Math.round(h * 3600) : hours;
    onDone(await api('PUT', `${path}/app-secret`, { appSecret: secret.trim(), overlapSeconds }));
  });
  return html`<${ModalForm} title=${`Edit the App Secret of ${name}`} onCancel=${onCancel}>
    <${Form} onSubmit=${submit} submitLabel="Save" busy=${busy} error=${error}
      labels=${{ appSecret: 'App Secret', overlapSeconds: 'Previous App Secret accepted for (hours)' }}
      actions=${html`<${Button} onClick=${onCancel}>Cancel</${Button}>`}>
      <${Field} label="App Secret" type="password" value=${secret} onInput=${setSecret} required autocomplete="off"
        hint="The new app secret on Meta for Developers." error=${fieldError(error, 'appSecret')} />
      <${Field} label="Previous App Secret accepted for (hours)" type="number" min="0" max="168" step="any"
        value=${hours} onInput=${setHours} error=${fieldError(error, 'overlapSeconds')}
        hint="0 to 168. Webhooks signed with the previous secret are still on their way; 0 cuts over at once, for a leaked secret." />
    </${Form}>
  </${ModalForm}>`;
}

const actionNames = {
  'channel.create': 'Channel created', 'channel.update': 'Configuration changed',
  'channel.delete_requested': 'Deletion requested', 'channel.onboarding.start': 'Onboarding started',
  'channel.onboarding.confirm': 'Submitted', 'channel.onboarding.cancel': 'Onboarding cancelled',
  'channel.verify_token.replace': 'Verification code replaced',
  'channel.app_secret.change': 'App Secret changed', 'channel.rotation.revoke_previous': 'Previous App Secret revoked',
  'page.add': 'Page added', 'page.remove_requested': 'Page removal requested',
  'page.token_secret.change': 'Token Secret changed',
};

/** The channel's audit log, newest first. */
function Audit({ path }) {
  const list = useCursorList(`${path}/audit?limit=20`);
  const columns = [
    { label: 'When', render: (e) => formatTime(e.at) },
    { label: 'What', render: (e) => actionNames[e.action] || e.action },
    { label: 'On', render: (e) => `${e.target.type} ${e.target.id}` },
    { label: 'Who', render: (e) => (e.actor.type === 'cli' ? `command ${e.actor.command || ''}` : `${e.actor.role} token ${e.actor.tokenId}`) },
    { label: 'Details', render: (e) => Object.entries(e.details).map(([k, v]) => `${k}: ${v}`).join('; ') },
  ];
  return html`<section aria-labelledby="audit-heading">
    <h2 id="audit-heading">Audit log</h2>
    <div class="actions"><${Button} onClick=${list.reload} busy=${list.loading}>Refresh</${Button}></div>
    ${list.error && html`<${Notice} kind="error">The audit log could not be loaded: ${list.error.message}</${Notice}>`}
    <${Table} caption="Changes of the channel, newest first" columns=${columns} rows=${list.items} rowKey=${(e) => e.id}
      empty="No change recorded." />
    <${Pager} ...${list.pager} label="Audit log pages" />
  </section>`;
}
