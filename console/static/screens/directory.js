// directory.js: the tenant's directory (#/directory): OUs, skill queues (the multimedia called routes a channel
// queues its sessions in) and service calendars (the non-working days of the agents' work time), each listed
// page by page and, for an administrator, created with every field error of the API next to its field.

import { html } from 'htm/preact';
import { getAll } from '../lib/api.js';
import { useCreate, useCursorList, useLoad } from '../lib/hooks.js';
import { Field, Form, Notice, Pager, Spinner, Table, fieldError, formatTime } from '../lib/ui.js';

export default function Directory({ session }) {
  // Every OU, for the OU selects and for showing OU names in the lists.
  const ous = useLoad(() => getAll('/v1/ous'), []);
  const ouItems = (ous.data && ous.data.items) || [];
  const ouName = (id) => (ouItems.find((o) => o.id === id) || { name: id }).name;
  return html`
    <h1>Directory</h1>
    <p>The OUs, skill queues and service calendars of this tenant. A channel's basic configuration picks its OU and
      skill queue here; its agent work time follows a service calendar's non-working days.</p>
    <nav class="in-page" aria-label="Directory sections">
      <a href="#/directory" onClick=${jump('ous-h')}>OUs</a>
      <a href="#/directory" onClick=${jump('queues-h')}>Skill queues</a>
      <a href="#/directory" onClick=${jump('calendars-h')}>Service calendars</a>
    </nav>
    <${OUs} session=${session} ouItems=${ouItems} ouName=${ouName} onCreated=${ous.reload} />
    <${SkillQueues} session=${session} ouItems=${ouItems} ouName=${ouName} />
    <${ServiceCalendars} session=${session} />`;
}

/** A click handler that scrolls to the heading with id and focuses it, without changing the route. */
function jump(id) {
  return (e) => {
    e.preventDefault();
    const h = document.getElementById(id);
    h.setAttribute('tabindex', '-1');
    h.focus();
    h.scrollIntoView();
  };
}

/** A list's load error, or its first load, or nothing. */
function ListState({ list, what }) {
  if (list.error) return html`<${Notice} kind="error">The ${what} could not be loaded: ${list.error.message}</${Notice}>`;
  if (list.loading && list.items.length === 0) return html`<${Spinner} />`;
  return null;
}

/** A whole number as typed, or the text itself for the API to refuse; undefined (the default) when empty. */
function integer(text) {
  const t = String(text).trim();
  if (t === '') return undefined;
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

function OUs({ session, ouItems, ouName, onCreated }) {
  const list = useCursorList('/v1/ous');
  const form = useCreate('/v1/ous', { name: '', parentId: '' },
    (v) => ({ name: v.name, parentId: v.parentId || undefined }),
    () => { list.reload(); onCreated(); });
  const { values, set, error } = form;
  return html`<section aria-labelledby="ous-h">
    <h2 id="ous-h">OUs</h2>
    <${ListState} list=${list} what="OUs" />
    <${Table} rows=${list.items} rowKey=${(o) => o.id} empty="No OUs yet."
      columns=${[
        { label: 'Name', render: (o) => o.name },
        { label: 'Parent OU', render: (o) => (o.parentId ? ouName(o.parentId) : '—') },
        { label: 'ID', render: (o) => html`<code>${o.id}</code>` },
        { label: 'Created', render: (o) => formatTime(o.createdAt) },
      ]} />
    <${Pager} ...${list.pager} label="OU pages" />
    ${session.canWrite && html`<h3>New OU</h3>
      ${form.created && html`<${Notice} kind="success">OU ${form.created.name} is created.</${Notice}>`}
      <${Form} onSubmit=${form.submit} submitLabel="Create OU" busy=${form.busy} error=${error}
        labels=${{ name: 'OU name', parentId: 'Parent OU' }}>
        <${Field} label="OU name" required maxLength="100" value=${values.name} onInput=${set('name')}
          error=${fieldError(error, 'name')} />
        <${Field} label="Parent OU" type="select" value=${values.parentId} onInput=${set('parentId')}
          hint="Optional: the OU this one belongs to."
          options=${[{ value: '', label: 'None (top level)' }, ...ouItems.map((o) => ({ value: o.id, label: o.name }))]}
          error=${fieldError(error, 'parentId')} />
      </${Form}>`}
  </section>`;
}

const queueDefaults = { name: '', accessCode: '', ouId: '', maxWaitSeconds: '60', maxQueued: '100', wrapUpSeconds: '5' };

const queueLabels = {
  name: 'Skill queue name', accessCode: 'Access code', ouId: 'OU', maxWaitSeconds: 'Maximum wait (seconds)',
  maxQueued: 'Maximum queued sessions', wrapUpSeconds: 'Wrap-up time (seconds)',
};

function SkillQueues({ session, ouItems, ouName }) {
  const list = useCursorList('/v1/skill-queues');
  const form = useCreate('/v1/skill-queues', queueDefaults, (v) => ({
    name: v.name, accessCode: v.accessCode, ouId: v.ouId,
    maxWaitSeconds: integer(v.maxWaitSeconds), maxQueued: integer(v.maxQueued), wrapUpSeconds: integer(v.wrapUpSeconds),
  }), () => list.reload());
  const { values, set, error } = form;
  const number = (name, hint) => html`<${Field} label=${queueLabels[name]} inputMode="numeric" value=${values[name]}
    onInput=${set(name)} hint=${hint} error=${fieldError(error, name)} />`;
  return html`<section aria-labelledby="queues-h">
    <h2 id="queues-h">Skill queues</h2>
    <${ListState} list=${list} what="skill queues" />
    <${Table} rows=${list.items} rowKey=${(q) => q.id} empty="No skill queues yet."
      columns=${[
        { label: 'Name', render: (q) => q.name },
        { label: 'Access code', render: (q) => q.accessCode },
        { label: 'OU', render: (q) => ouName(q.ouId) },
        { label: 'Maximum wait', render: (q) => `${q.maxWaitSeconds} s` },
        { label: 'Maximum queued', render: (q) => q.maxQueued },
        { label: 'Wrap-up', render: (q) => `${q.wrapUpSeconds} s` },
        { label: 'ID', render: (q) => html`<code>${q.id}</code>` },
      ]} />
    <${Pager} ...${list.pager} label="Skill queue pages" />
    ${session.canWrite && html`<h3>New skill queue</h3>
      ${form.created && html`<${Notice} kind="success">Skill queue ${form.created.name} is created.</${Notice}>`}
      <${Form} onSubmit=${form.submit} submitLabel="Create skill queue" busy=${form.busy} error=${error}
        labels=${queueLabels}>
        <div class="split">
          <${Field} label=${queueLabels.name} required maxLength="100" value=${values.name} onInput=${set('name')}
            error=${fieldError(error, 'name')} />
          <${Field} label=${queueLabels.accessCode} required maxLength="64" value=${values.accessCode}
            onInput=${set('accessCode')} hint="The called route's access code, e.g. 1001."
            error=${fieldError(error, 'accessCode')} />
          <${Field} label=${queueLabels.ouId} type="select" required value=${values.ouId} onInput=${set('ouId')}
            hint=${ouItems.length === 0 ? 'Create an OU first.' : ''}
            options=${[{ value: '', label: 'Choose an OU' }, ...ouItems.map((o) => ({ value: o.id, label: o.name }))]}
            error=${fieldError(error, 'ouId')} />
          ${number('maxWaitSeconds', 'From 1 to 60,000; 60 by default.')}
          ${number('maxQueued', 'From 1 to 10,000; 100 by default.')}
          ${number('wrapUpSeconds', 'From 0 to 3,600; 5 by default.')}
        </div>
      </${Form}>`}
  </section>`;
}

/** The weekdays as the API numbers them: 0 is Sunday. */
const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** The browser's IANA time zones, for the time zone field's suggestions. */
const timeZones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];

const browserTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** The dates typed in a text area: one a line (commas and spaces separate too). */
function dates(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/**
 * The errors of a list field in one text: the list's own error and each item's (field[i]), naming the item.
 * The API names an item by its index; people know it by its value.
 */
function listError(error, field, items, itemName = (v) => v) {
  const fields = (error && error.fields) || {};
  const out = [];
  if (fields[field]) out.push(fields[field]);
  for (const [path, msg] of Object.entries(fields)) {
    const m = path.startsWith(`${field}[`) && /\[(\d+)\]$/.exec(path);
    if (m) out.push(`${itemName(items[Number(m[1])])} ${msg}`);
  }
  return out.join('; ');
}

/** The summary's names of the fields in error, the items of a list by their value. */
function calendarLabels(error, values) {
  const labels = {
    name: 'Calendar name', timeZone: 'Time zone', weeklyNonWorkingDays: 'Weekly non-working days',
    restDates: 'Rest dates', makeUpWorkDates: 'Make-up work dates',
  };
  const lists = { restDates: dates(values.restDates), makeUpWorkDates: dates(values.makeUpWorkDates) };
  for (const path of Object.keys((error && error.fields) || {})) {
    const m = /^(\w+)\[(\d+)\]$/.exec(path);
    if (!m || !labels[m[1]]) continue;
    const item = m[1] === 'weeklyNonWorkingDays' ? weekdays[values.weekly[Number(m[2])]] : lists[m[1]][Number(m[2])];
    labels[path] = `${labels[m[1]]} (${item})`;
  }
  return labels;
}

function ServiceCalendars({ session }) {
  const list = useCursorList('/v1/service-calendars');
  const initial = { name: '', timeZone: browserTimeZone, weekly: [0, 6], restDates: '', makeUpWorkDates: '' };
  const form = useCreate('/v1/service-calendars', initial, (v) => ({
    name: v.name, timeZone: v.timeZone.trim(), weeklyNonWorkingDays: v.weekly,
    restDates: dates(v.restDates), makeUpWorkDates: dates(v.makeUpWorkDates),
  }), () => list.reload());
  const { values, set, error } = form;
  const toggleDay = (day) => (on) => set('weekly')(on
    ? [...values.weekly, day].sort((a, b) => a - b)
    : values.weekly.filter((d) => d !== day));
  const weeklyError = listError(error, 'weeklyNonWorkingDays', values.weekly, (d) => weekdays[d] || d);
  const dateHint = 'One date a line, as YYYY-MM-DD (e.g. 2026-10-01).';
  return html`<section aria-labelledby="calendars-h">
    <h2 id="calendars-h">Service calendars</h2>
    <${ListState} list=${list} what="service calendars" />
    <${Table} rows=${list.items} rowKey=${(c) => c.id} empty="No service calendars yet."
      columns=${[
        { label: 'Name', render: (c) => c.name },
        { label: 'Time zone', render: (c) => c.timeZone },
        { label: 'Weekly non-working days', render: (c) => c.weeklyNonWorkingDays.map((d) => weekdays[d]).join(', ') || '—' },
        { label: 'Rest dates', render: (c) => dateList(c.restDates) },
        { label: 'Make-up work dates', render: (c) => dateList(c.makeUpWorkDates) },
        { label: 'ID', render: (c) => html`<code>${c.id}</code>` },
      ]} />
    <${Pager} ...${list.pager} label="Service calendar pages" />
    ${session.canWrite && html`<h3>New service calendar</h3>
      ${form.created && html`<${Notice} kind="success">Service calendar ${form.created.name} is created.</${Notice}>`}
      <${Form} onSubmit=${form.submit} submitLabel="Create service calendar" busy=${form.busy} error=${error}
        labels=${calendarLabels(error, values)}>
        <${Field} label="Calendar name" required maxLength="100" value=${values.name} onInput=${set('name')}
          error=${fieldError(error, 'name')} />
        <${Field} label="Time zone" required value=${values.timeZone} onInput=${set('timeZone')} list="cal-time-zones"
          autocomplete="off" hint="An IANA time zone, e.g. Asia/Shanghai or Europe/Berlin."
          error=${fieldError(error, 'timeZone')} />
        <datalist id="cal-time-zones">${timeZones.map((z) => html`<option value=${z} />`)}</datalist>
        <fieldset class="weekdays" aria-describedby=${weeklyError ? 'cal-weekly-error' : undefined}>
          <legend>Weekly non-working days</legend>
          ${weekdays.map((name, day) => html`<${Field} type="checkbox" label=${name} value=${values.weekly.includes(day)}
            onInput=${toggleDay(day)} aria-invalid=${weeklyError ? 'true' : undefined} />`)}
          ${weeklyError && html`<p id="cal-weekly-error" class="error-text">${weeklyError}</p>`}
        </fieldset>
        <div class="split">
          <${Field} label="Rest dates" type="textarea" rows="4" value=${values.restDates} onInput=${set('restDates')}
            hint=${`Holidays: days off although they are working days of the week. ${dateHint}`}
            error=${listError(error, 'restDates', dates(values.restDates))} />
          <${Field} label="Make-up work dates" type="textarea" rows="4" value=${values.makeUpWorkDates}
            onInput=${set('makeUpWorkDates')}
            hint=${`Working days although they fall on a weekly non-working day. ${dateHint}`}
            error=${listError(error, 'makeUpWorkDates', dates(values.makeUpWorkDates))} />
        </div>
      </${Form}>`}
  </section>`;
}

/** A calendar's dates, the first few and how many more. */
function dateList(list) {
  if (list.length === 0) return '—';
  const shown = list.slice(0, 4).join(', ');
  return list.length > 4 ? `${shown} and ${list.length - 4} more` : shown;
}
