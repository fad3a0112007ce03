// The channel's configuration as a form: the fields of seed Tables 1-3 with the seed's labels, the draft they
// edit, and its translation to the API's body. The wizard (#/new) shows them as steps; the channel page
// (#/channels/:channelId) edits the basic and robot configuration with them. A field shows the API's error for
// its JSON path (err(path)).

import { html } from 'htm/preact';
import { getAll } from '../lib/api.js';
import { Button, Field, Notice } from '../lib/ui.js';

/** At most this many work-time segments per day kind (seed Table 2). */
const maxSegments = 4;

/** The labels of the fields by the API's JSON path, in the order the form shows them, for the error summary. */
export const labels = {
  appId: 'App ID', appSecret: 'App Secret', algorithm: 'Interconnection Encryption Algorithm', name: 'Channel Name',
  'basic.ouId': 'OU Configuration', 'basic.skillQueueId': 'Skill Queue',
  'basic.workTime.workday': 'Workday', 'basic.workTime.nonWorkday': 'Non-workday',
  'basic.serviceCalendarId': 'Service calendar', 'basic.nonWorkingTimeNotice': 'Non-Working Time Notification',
  'basic.lastAgentMode.windowMinutes': 'Last Agent Mode window (minutes)',
  'basic.noCustomerReplyEnd.timeoutMinutes': 'No customer reply timeout (minutes)',
  'basic.noCustomerReplyEnd.endMessage': 'Session end message',
  'basic.noCustomerReplyEnd.workTimeOnly': 'Count working time only',
  'basic.noAgentReplyTransfer.timeoutSeconds': 'No agent reply timeout (seconds)',
  'basic.noAgentReplyTransfer.targetSkillQueueId': 'Transfer to skill queue',
  'basic.noAgentReplyTransfer.notice': 'Transfer notice',
  'basic.sessionTransfer.targetSkillQueueIds': 'Skill queues a session may be transferred to',
  'robot.intelligentRobot.accessCode': 'Robot access code', 'robot.intelligentRobot.name': 'Robot name',
  'robot.intelligentRobot.avatar': 'Robot avatar', 'robot.intelligentRobot.gender': 'Robot gender',
  'basic.transferKeywords': 'Keyword for Transfer to Agent',
  'robot.robotAssistant.accessCode': 'Robot assistant access code',
  'robot.robotAssistant.silentAgentSkillQueueId': 'Silent agent skill queue',
};

/** The step (0, 1, 2) that holds the field at an API path. */
export function stepOf(path) {
  if (/^(appId|appSecret|algorithm)$/.test(path)) return 0;
  if (path.startsWith('robot.') || path.startsWith('basic.transferKeywords')) return 2;
  return 1;
}

/** A new channel as the form edits it: the API's ChannelCreate with form-friendly strings. */
export function emptyDraft() {
  return {
    channelType: 'facebook', appId: '', appSecret: '', algorithm: 'sha256', name: '', ouId: '', skillQueueId: '',
    workday: [{ start: '09:00', end: '18:00' }], nonWorkday: [{ start: '', end: '' }], serviceCalendarId: '',
    nonWorkingTimeNotice: '',
    lastAgent: false, lastAgentWindow: '1440',
    noCustomerReply: false, noCustomerReplyMinutes: '20', noCustomerReplyMessage: '', noCustomerReplyWorkTimeOnly: false,
    noAgentReply: false, noAgentReplySeconds: '60', noAgentReplyQueue: '', noAgentReplyNotice: '',
    sessionTransfer: false, transferQueues: [],
    robot: false, robotAccessCode: '', robotName: '', robotAvatar: '1', robotGender: 'unspecified', keywords: '',
    assistant: false, assistantAccessCode: '', assistantQueue: '',
  };
}

/** A number field's text as a number, or the text itself when it is not one (the API then names the field). */
function num(text) {
  const n = Number(text);
  return text.trim() !== '' && Number.isInteger(n) ? n : text;
}

/** The POST /v1/channels body of a draft. Blank work-time segments are left out; no calendar is ''. */
export function toBody(d) {
  const segments = (list) => list.filter((s) => s.start || s.end).map((s) => ({ start: s.start, end: s.end }));
  const basic = {
    ouId: d.ouId, skillQueueId: d.skillQueueId,
    workTime: { workday: segments(d.workday), nonWorkday: segments(d.nonWorkday) },
    nonWorkingTimeNotice: d.nonWorkingTimeNotice,
    lastAgentMode: { enabled: d.lastAgent, windowMinutes: num(d.lastAgentWindow) },
    noCustomerReplyEnd: { enabled: d.noCustomerReply, timeoutMinutes: num(d.noCustomerReplyMinutes),
      endMessage: d.noCustomerReplyMessage, workTimeOnly: d.noCustomerReplyWorkTimeOnly },
    noAgentReplyTransfer: { enabled: d.noAgentReply, timeoutSeconds: num(d.noAgentReplySeconds),
      targetSkillQueueId: d.noAgentReplyQueue, notice: d.noAgentReplyNotice },
    sessionTransfer: { enabled: d.sessionTransfer, targetSkillQueueIds: d.transferQueues },
  };
  basic.serviceCalendarId = d.serviceCalendarId;
  basic.transferKeywords = d.keywords.split(',').map((k) => k.trim()).filter(Boolean);
  return {
    name: d.name.trim(), appId: d.appId.trim(), appSecret: d.appSecret, algorithm: d.algorithm, basic,
    robot: {
      intelligentRobot: { enabled: d.robot, accessCode: d.robotAccessCode, name: d.robotName,
        avatar: num(d.robotAvatar), gender: d.robotGender },
      robotAssistant: { enabled: d.assistant, accessCode: d.assistantAccessCode,
        silentAgentSkillQueueId: d.assistantQueue },
    },
  };
}

/**
 * The API's error with its work-time paths, which count the segments sent (toBody leaves the blank rows out),
 * renamed to count the rows shown: the error lands on the row that has it.
 */
export function onRows(error, d) {
  if (!error || !error.fields) return error;
  const sentRows = (list) => list.flatMap((s, i) => (s.start || s.end ? [i] : []));
  const rows = { workday: sentRows(d.workday), nonWorkday: sentRows(d.nonWorkday) };
  const fields = {};
  for (const [path, message] of Object.entries(error.fields)) {
    const m = /^basic\.workTime\.(workday|nonWorkday)\[(\d+)\](.*)$/.exec(path);
    const row = m && rows[m[1]][Number(m[2])];
    fields[row === undefined || row === null ? path : `basic.workTime.${m[1]}[${row}]${m[3]}`] = message;
  }
  error.fields = fields;
  return error;
}

/**
 * The parts of after that differ from before: objects compared key by key, anything else (an array whole) by
 * value. A PATCH of them changes what the user changed and keeps what someone else changed meanwhile.
 */
export function changes(before, after) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const out = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isObject(value) && isObject(old)) {
      const inner = changes(old, value);
      if (Object.keys(inner).length) out[key] = inner;
    } else if (JSON.stringify(value) !== JSON.stringify(old)) {
      out[key] = value;
    }
  }
  return out;
}

/** Every OU, skill queue and service calendar of the tenant, for the selects. */
export function loadDirectory() {
  return Promise.all(['/v1/ous', '/v1/skill-queues', '/v1/service-calendars'].map(getAll));
}

/** The answer of loadDirectory as {ous, queues, calendars}, empty while it loads. */
export function directoryLists(data) {
  const [ous, queues, calendars] = (data || [{ items: [] }, { items: [] }, { items: [] }]).map((l) => l.items);
  return { ous, queues, calendars };
}

/** The draft of a stored channel (GET /v1/channels/{id}), for editing. */
export function draftOf(ch) {
  const b = ch.basic || {};
  const r = ch.robot || {};
  const robot = r.intelligentRobot || {};
  const assistant = r.robotAssistant || {};
  const str = (v, dflt) => (v === undefined || v === null ? dflt : String(v));
  const segs = (list) => (list || []).map((s) => ({ start: s.start, end: s.end }));
  return {
    ...emptyDraft(), appId: ch.appId, algorithm: ch.algorithm, name: ch.name, ouId: b.ouId || '',
    skillQueueId: b.skillQueueId || '', workday: segs(b.workTime && b.workTime.workday),
    nonWorkday: segs(b.workTime && b.workTime.nonWorkday), serviceCalendarId: b.serviceCalendarId || '',
    nonWorkingTimeNotice: b.nonWorkingTimeNotice || '',
    lastAgent: !!(b.lastAgentMode && b.lastAgentMode.enabled),
    lastAgentWindow: str(b.lastAgentMode && b.lastAgentMode.windowMinutes, '1440'),
    noCustomerReply: !!(b.noCustomerReplyEnd && b.noCustomerReplyEnd.enabled),
    noCustomerReplyMinutes: str(b.noCustomerReplyEnd && b.noCustomerReplyEnd.timeoutMinutes, '20'),
    noCustomerReplyMessage: (b.noCustomerReplyEnd && b.noCustomerReplyEnd.endMessage) || '',
    noCustomerReplyWorkTimeOnly: !!(b.noCustomerReplyEnd && b.noCustomerReplyEnd.workTimeOnly),
    noAgentReply: !!(b.noAgentReplyTransfer && b.noAgentReplyTransfer.enabled),
    noAgentReplySeconds: str(b.noAgentReplyTransfer && b.noAgentReplyTransfer.timeoutSeconds, '60'),
    noAgentReplyQueue: (b.noAgentReplyTransfer && b.noAgentReplyTransfer.targetSkillQueueId) || '',
    noAgentReplyNotice: (b.noAgentReplyTransfer && b.noAgentReplyTransfer.notice) || '',
    sessionTransfer: !!(b.sessionTransfer && b.sessionTransfer.enabled),
    transferQueues: (b.sessionTransfer && b.sessionTransfer.targetSkillQueueIds) || [],
    robot: !!robot.enabled, robotAccessCode: robot.accessCode || '', robotName: robot.name || '',
    robotAvatar: str(robot.avatar, '1'), robotGender: robot.gender || 'unspecified',
    keywords: (b.transferKeywords || []).join(', '),
    assistant: !!assistant.enabled, assistantAccessCode: assistant.accessCode || '',
    assistantQueue: assistant.silentAgentSkillQueueId || '',
  };
}

const options = (items, none) => [...(none ? [{ value: '', label: none }] : []),
  ...items.map((it) => ({ value: it.id, label: it.name }))];

/** Table 1, Channel information: the channel type, the Meta app and the signature algorithm. */
export function InfoFields({ d, set, err }) {
  return html`<${Field} label="Channel Selection" type="select" value=${d.channelType} onInput=${set('channelType')}
          options=${[{ value: 'facebook', label: 'Facebook' }]} />
        <${Field} label="App ID" value=${d.appId} onInput=${set('appId')} required inputMode="numeric" autocomplete="off"
          hint="The app ID on Meta for Developers." error=${err('appId')} />
        <${Field} label="App Secret" type="password" value=${d.appSecret} onInput=${set('appSecret')} required
          autocomplete="off" hint="The app secret on Meta for Developers." error=${err('appSecret')} />
        <${Field} label="Interconnection Encryption Algorithm" type="select" value=${d.algorithm}
          onInput=${set('algorithm')} error=${err('algorithm')}
          options=${[{ value: 'sha256', label: 'SHA-256' }, { value: 'sha1', label: 'SHA-1' }]} />
        ${d.algorithm === 'sha1' && html`<${Notice} kind="warning">SHA-1 is not strong enough, which poses security
          risks. If the platform supports SHA-256, you are advised to use this algorithm, which is stronger.</${Notice}>`}`;
}

/** Table 2, Basic configuration, the Channel Name first. */
export function BasicFields({ d, set, err, directory }) {
  const { ous, queues, calendars } = directory;
  return html`<${Field} label="Channel Name" value=${d.name} onInput=${set('name')} required maxLength="64" autocomplete="off"
          hint="Unique; at most 64 letters, digits and underscores (_), starting with a letter or an underscore."
          error=${err('name')} />
        <${Field} label="OU Configuration" type="select" value=${d.ouId} onInput=${set('ouId')} required
          options=${options(ous, 'Select an OU')} error=${err('basic.ouId')}
          hint=${ous.length ? '' : html`No OU yet: create one on the <a href="#/directory">Directory</a> screen.`} />
        <${Field} label="Skill Queue" type="select" value=${d.skillQueueId} onInput=${set('skillQueueId')} required
          options=${options(queues, 'Select a skill queue')} error=${err('basic.skillQueueId')}
          hint=${queues.length ? 'A multimedia called route of this tenant.'
            : html`No skill queue yet: create one on the <a href="#/directory">Directory</a> screen.`} />
        <h3>Agent Work Time</h3>
        <${Segments} kind="Workday" path="basic.workTime.workday" list=${d.workday} onChange=${set('workday')} err=${err} />
        <${Segments} kind="Non-workday" path="basic.workTime.nonWorkday" list=${d.nonWorkday} onChange=${set('nonWorkday')} err=${err} />
        <${Field} label="Service calendar" type="select" value=${d.serviceCalendarId} onInput=${set('serviceCalendarId')}
          options=${options(calendars, 'None: every day is a workday')} error=${err('basic.serviceCalendarId')}
          hint="The calendar that says which days are non-workdays (Directory › Service calendars)." />
        <${Field} label="Non-Working Time Notification" type="textarea" value=${d.nonWorkingTimeNotice}
          onInput=${set('nonWorkingTimeNotice')} maxLength="1000" error=${err('basic.nonWorkingTimeNotice')}
          hint="Shown to a customer who writes in non-working time." />
        <h3>More</h3>
        <fieldset><legend>Last Agent Mode</legend>
          <${Field} type="checkbox" label="Enable Last Agent Mode" value=${d.lastAgent} onInput=${set('lastAgent')}
            hint="A returning customer is offered to the agent who served them last." />
          ${d.lastAgent && html`<${Field} label="Last Agent Mode window (minutes)" type="number" min="1" max="10080"
            value=${d.lastAgentWindow} onInput=${set('lastAgentWindow')} error=${err('basic.lastAgentMode.windowMinutes')} />`}
        </fieldset>
        <fieldset><legend>Session End Due to No Customer Reply</legend>
          <${Field} type="checkbox" label="Enable Session End Due to No Customer Reply" value=${d.noCustomerReply}
            onInput=${set('noCustomerReply')} />
          ${d.noCustomerReply && html`
            <${Field} label="No customer reply timeout (minutes)" type="number" min="1" max="60"
              value=${d.noCustomerReplyMinutes} onInput=${set('noCustomerReplyMinutes')}
              hint="1 to 60; longer than the skill queue's maximum waiting time."
              error=${err('basic.noCustomerReplyEnd.timeoutMinutes')} />
            <${Field} label="Session end message" type="textarea" value=${d.noCustomerReplyMessage}
              onInput=${set('noCustomerReplyMessage')} error=${err('basic.noCustomerReplyEnd.endMessage')} />
            <${Field} type="checkbox" label="Count working time only" value=${d.noCustomerReplyWorkTimeOnly}
              onInput=${set('noCustomerReplyWorkTimeOnly')}
              hint="The timeout runs only during the work time above: a customer is not timed out overnight."
              error=${err('basic.noCustomerReplyEnd.workTimeOnly')} />`}
        </fieldset>
        <fieldset><legend>Session Transfer Due to No Agent Reply</legend>
          <${Field} type="checkbox" label="Enable Session Transfer Due to No Agent Reply" value=${d.noAgentReply}
            onInput=${set('noAgentReply')} />
          ${d.noAgentReply && html`
            <${Field} label="No agent reply timeout (seconds)" type="number" min="1" max="3600"
              value=${d.noAgentReplySeconds} onInput=${set('noAgentReplySeconds')}
              error=${err('basic.noAgentReplyTransfer.timeoutSeconds')} />
            <${Field} label="Transfer to skill queue" type="select" value=${d.noAgentReplyQueue}
              onInput=${set('noAgentReplyQueue')} options=${options(queues, 'Select a skill queue')}
              error=${err('basic.noAgentReplyTransfer.targetSkillQueueId')} />
            <${Field} label="Transfer notice" type="textarea" value=${d.noAgentReplyNotice}
              onInput=${set('noAgentReplyNotice')} error=${err('basic.noAgentReplyTransfer.notice')} />`}
        </fieldset>
        <fieldset><legend>Session Transfer</legend>
          <${Field} type="checkbox" label="Enable Session Transfer" value=${d.sessionTransfer} onInput=${set('sessionTransfer')}
            error=${err('basic.sessionTransfer.targetSkillQueueIds')} />
          ${d.sessionTransfer && html`<fieldset><legend>Skill queues a session may be transferred to</legend>
            ${queues.map((q, i) => html`<${Field} type="checkbox" label=${q.name} value=${d.transferQueues.includes(q.id)}
              error=${err(`basic.sessionTransfer.targetSkillQueueIds[${d.transferQueues.indexOf(q.id)}]`)}
              onInput=${(on) => set('transferQueues')(on ? [...d.transferQueues, q.id]
                : d.transferQueues.filter((id) => id !== q.id))} key=${q.id || i} />`)}
          </fieldset>`}
        </fieldset>`;
}

/**
 * Table 3, Robot configuration, with the Keyword for Transfer to Agent that the robot needs; errors are all the
 * field errors, for those of single keywords (basic.transferKeywords[2]).
 */
export function RobotFields({ d, set, err, errors, directory }) {
  const { queues } = directory;
  return html`<fieldset><legend>Connecting to the Intelligent Robot</legend>
          <${Field} type="checkbox" label="Connecting to the Intelligent Robot" value=${d.robot} onInput=${set('robot')} />
          ${d.robot && html`
            <${Field} label="Robot access code" value=${d.robotAccessCode} onInput=${set('robotAccessCode')} required
              maxLength="64" error=${err('robot.intelligentRobot.accessCode')} />
            <${Field} label="Robot name" value=${d.robotName} onInput=${set('robotName')} required maxLength="50"
              error=${err('robot.intelligentRobot.name')} />
            <${Field} label="Robot avatar" type="select" value=${d.robotAvatar} onInput=${set('robotAvatar')}
              options=${[1, 2, 3, 4, 5, 6, 7].map((n) => ({ value: String(n), label: `Avatar ${n}` }))}
              error=${err('robot.intelligentRobot.avatar')} />
            <${Field} label="Robot gender" type="select" value=${d.robotGender} onInput=${set('robotGender')}
              options=${[{ value: 'unspecified', label: 'Unspecified' }, { value: 'female', label: 'Female' },
                { value: 'male', label: 'Male' }]} error=${err('robot.intelligentRobot.gender')} />
            <${Field} label="Keyword for Transfer to Agent" value=${d.keywords} onInput=${set('keywords')} required
              hint="Required when the intelligent robot is enabled. Separate keywords with commas, e.g. agent, human."
              error=${err('basic.transferKeywords') || Object.entries(errors || {})
                .filter(([p]) => p.startsWith('basic.transferKeywords[')).map(([p, m]) => `${p.slice(6)}: ${m}`).join('; ')} />`}
        </fieldset>
        <fieldset><legend>Access Robot Assistant</legend>
          <${Field} type="checkbox" label="Access Robot Assistant" value=${d.assistant} onInput=${set('assistant')} />
          ${d.assistant && html`
            <${Field} label="Robot assistant access code" value=${d.assistantAccessCode}
              onInput=${set('assistantAccessCode')} required maxLength="64" error=${err('robot.robotAssistant.accessCode')} />
            <${Field} label="Silent agent skill queue" type="select" value=${d.assistantQueue}
              onInput=${set('assistantQueue')} required options=${options(queues, 'Select a skill queue')}
              error=${err('robot.robotAssistant.silentAgentSkillQueueId')} />`}
        </fieldset>`;
}

/** Up to four time segments of one day kind, each with its start and end, with New and Remove. */
function Segments({ kind, path, list, onChange, err }) {
  const update = (i, key) => (value) => onChange(list.map((s, j) => (j === i ? { ...s, [key]: value } : s)));
  return html`<fieldset>
    <legend>${kind}</legend>
    <p class="hint">At most ${maxSegments} time segments, each HH:MM to HH:MM from 00:00 to 24:00${kind === 'Workday' ? '' : ', on the days the service calendar makes non-workdays'}.</p>
    ${err(path) && html`<p class="error-text">${err(path)}</p>`}
    ${list.length === 0 && html`<p>No time segment: agents do not work on ${kind === 'Workday' ? 'workdays' : 'non-workdays'}.</p>`}
    ${list.map((s, i) => {
      const f = `${path}[${i}]`;
      return html`<div class="segment" key=${i}>
        <${Field} label=${`${kind} ${i + 1} start`} value=${s.start} onInput=${update(i, 'start')} placeholder="HH:MM"
          maxLength="5" autocomplete="off" error=${err(`${f}.start`) || err(f)} />
        <${Field} label=${`${kind} ${i + 1} end`} value=${s.end} onInput=${update(i, 'end')} placeholder="HH:MM"
          maxLength="5" autocomplete="off" error=${err(`${f}.end`)} />
        <${Button} onClick=${() => onChange(list.filter((_, j) => j !== i))}
          aria-label=${`Remove ${kind.toLowerCase()} time segment ${i + 1}`}>Remove</${Button}>
      </div>`;
    })}
    ${list.length < maxSegments && html`<${Button} onClick=${() => onChange([...list, { start: '', end: '' }])}
      aria-label=${`New ${kind.toLowerCase()} time segment`}>New</${Button}>`}
  </fieldset>`;
}

