// conversations.js: a channel's conversations (#/channels/:channelId/conversations), latest updated first, and
// one conversation (#/conversations/:conversationId) with its runtime (stage, queue, agent, pending timers, end
// reason) and its webhook events page by page. Read-only: agents answer in their workbench, not here.

import { html } from 'htm/preact';
import { get, getAll } from '../lib/api.js';
import { useCursorList, useLoad } from '../lib/hooks.js';
import { Button, Notice, Pager, Spinner, Table, formatTime } from '../lib/ui.js';

export default function Conversations({ params }) {
  return params.conversationId
    ? html`<${Conversation} id=${params.conversationId} />`
    : html`<${ChannelConversations} channelId=${params.channelId} />`;
}

const stageNames = {
  robot: 'Intelligent robot', queued: 'Waiting in a skill queue', offered: 'Offered to the last agent',
  assigned: 'With an agent',
};

const endReasonNames = { no_customer_reply: 'Session end due to no customer reply', closed: 'Closed by the agent' };

const timerNames = {
  no_customer_reply: 'Session end due to no customer reply',
  no_agent_reply: 'Session transfer due to no agent reply',
  offer: 'The offer to the last agent lapses; the session is queued',
};

const eventKindNames = {
  message: 'Customer message', echo: 'Page message (echo)', own_echo: 'Message sent by aicc (echo)',
  postback: 'Postback', delivery: 'Delivered', read: 'Read', reaction: 'Reaction', unknown: 'Other',
};

/** The skill queues' names by ID, for showing a conversation's queue. */
function useQueueNames() {
  const queues = useLoad(() => getAll('/v1/skill-queues'), []);
  const items = (queues.data && queues.data.items) || [];
  return (id) => (id ? (items.find((q) => q.id === id) || { name: id }).name : '—');
}

/** "Open, with an agent" or "Ended: session end due to no customer reply". */
function stateText(c) {
  if (c.status === 'ended') return `Ended${c.endReason ? `: ${endReasonNames[c.endReason] || c.endReason}` : ''}`;
  return c.stage ? `Open, ${(stageNames[c.stage] || c.stage).toLowerCase()}` : 'Open';
}

function StateBadge({ c }) {
  return html`<span class="badge ${c.status === 'ended' ? 'neutral' : 'good'}">${stateText(c)}</span>`;
}

/** The later of the customer's and the agent's last message times. */
function lastMessageAt(c) {
  const times = [c.lastCustomerMessageAt, c.lastAgentMessageAt].filter(Boolean).sort();
  return times.length ? times[times.length - 1] : '';
}

function ChannelConversations({ channelId }) {
  const channel = useLoad(() => get(`/v1/channels/${encodeURIComponent(channelId)}`), [channelId]);
  const list = useCursorList(`/v1/channels/${encodeURIComponent(channelId)}/conversations`);
  const queueName = useQueueNames();
  const name = channel.data ? channel.data.name : channelId;
  const channelHref = `#/channels/${encodeURIComponent(channelId)}`;
  return html`
    <p><a href=${channelHref}>Back to channel ${name}</a></p>
    <h1>Conversations of ${name}</h1>
    <p>The customers' sessions on this channel's Pages, the latest updated first. This view is read-only.</p>
    <div class="actions"><${Button} onClick=${list.reload} busy=${list.loading && list.items.length > 0}>Refresh</${Button}></div>
    ${list.error && html`<${Notice} kind="error">The conversations could not be loaded: ${list.error.message}</${Notice}>`}
    ${list.loading && list.items.length === 0 && !list.error ? html`<${Spinner} />` : html`
      <${Table} caption="Conversations, latest updated first" rows=${list.items} rowKey=${(c) => c.id}
        empty="No conversations yet: they start with a customer's first message to a Page."
        columns=${[
          { label: 'Customer', render: (c) => html`<a href=${`#/conversations/${encodeURIComponent(c.id)}`}>Customer ${c.psid}</a>` },
          { label: 'Page', render: (c) => c.pageId },
          { label: 'State', render: (c) => html`<${StateBadge} c=${c} />` },
          { label: 'Skill queue', render: (c) => queueName(c.queueId) },
          { label: 'Agent', render: (c) => c.agentId || '—' },
          { label: 'Last message', render: (c) => formatTime(lastMessageAt(c)) || '—' },
          { label: 'Messages', render: (c) => c.messageCount },
        ]} />
      <${Pager} ...${list.pager} label="Conversation pages" />`}`;
}

function Conversation({ id }) {
  const path = `/v1/conversations/${encodeURIComponent(id)}`;
  const conv = useLoad(() => get(`${path}?limit=1`), [path]);
  const events = useCursorList(`${path}/events`);
  const queueName = useQueueNames();
  const c = conv.data;
  const refresh = () => {
    conv.reload();
    events.reload();
  };
  if (!c) {
    return html`<h1>Conversation</h1>${conv.error
      ? html`<${Notice} kind="error">The conversation could not be loaded: ${conv.error.message}</${Notice}>`
      : html`<${Spinner} />`}`;
  }
  const channelHref = `#/channels/${encodeURIComponent(c.channelId)}`;
  return html`
    <p><a href=${`${channelHref}/conversations`}>All conversations of the channel</a></p>
    <h1 class="wrap-id">Conversation with customer ${c.psid}</h1>
    <div class="actions"><${Button} onClick=${refresh} busy=${conv.loading}>Refresh</${Button}></div>
    ${conv.error && html`<${Notice} kind="warning">The conversation could not be refreshed: ${conv.error.message}</${Notice}>`}
    <dl class="props">
      <dt>State</dt><dd><${StateBadge} c=${c} /></dd>
      <dt>Stage</dt><dd>${c.stage ? stageNames[c.stage] || c.stage : '—'}</dd>
      <dt>Skill queue</dt><dd>${queueName(c.queueId)}</dd>
      <dt>Agent</dt><dd>${c.agentId || '—'}</dd>
      <dt>Last agent</dt><dd>${c.lastAgentId ? `${c.lastAgentId}, ${formatTime(c.lastAgentAt)}` : '—'}</dd>
      ${c.status === 'ended' && html`<dt>End reason</dt><dd>${endReasonNames[c.endReason] || c.endReason || '—'}</dd>`}
      <dt>Channel</dt><dd><a href=${channelHref}>${c.channelId}</a></dd>
      <dt>Page</dt><dd>${c.pageId}</dd>
      <dt>Customer (PSID)</dt><dd>${c.psid}</dd>
      <dt>Messages</dt><dd>${c.messageCount}</dd>
      <dt>Last customer message</dt><dd>${messageText(c.lastCustomerMessage, c.lastCustomerMessageAt)}</dd>
      <dt>Last agent message</dt><dd>${messageText(c.lastAgentMessage, c.lastAgentMessageAt)}</dd>
      <dt>Started</dt><dd>${formatTime(c.startedAt)}</dd>
      ${c.endedAt && html`<dt>Ended</dt><dd>${formatTime(c.endedAt)}</dd>`}
      <dt>Updated</dt><dd>${formatTime(c.updatedAt)}</dd>
      <dt>ID</dt><dd><code>${c.id}</code></dd>
    </dl>
    <h2>Pending timers</h2>
    <${Table} caption="Pending timers, soonest first" rows=${c.timers} rowKey=${(t) => t.kind + t.at}
      empty="No timer is pending."
      columns=${[
        { label: 'What happens', render: (t) => timerNames[t.kind] || t.kind },
        { label: 'When', render: (t) => formatTime(t.at) },
      ]} />
    <h2>Events</h2>
    ${events.error && html`<${Notice} kind="error">The events could not be loaded: ${events.error.message}</${Notice}>`}
    ${events.loading && events.items.length === 0 && !events.error ? html`<${Spinner} />` : html`
      <${Table} caption="Webhook events, by Meta's time" rows=${events.items} rowKey=${(e) => e.id}
        empty="No events."
        columns=${[
          { label: 'Time', render: (e) => formatTime(e.timestamp) },
          { label: 'Kind', render: (e) => eventKindNames[e.kind] || e.kind },
          { label: 'Text', render: (e) => html`<span class="event-text">${e.text || (e.watermark ? `Up to ${formatTime(e.watermark)}` : '—')}</span>` },
          { label: 'Received', render: (e) => formatTime(e.receivedAt) },
          { label: 'Handled', render: (e) => (e.deliveredAt ? formatTime(e.deliveredAt) : 'Not yet') },
          { label: 'Payload', render: (e) => (e.payload
            ? html`<details><summary>Show payload of event ${e.id}</summary>
                <pre class="payload">${JSON.stringify(e.payload, null, 2)}</pre></details>`
            : '—') },
        ]} />
      <${Pager} ...${events.pager} label="Event pages" />`}`;
}

/** A last message with its time, or a dash. */
function messageText(text, at) {
  if (!text && !at) return '—';
  return html`${text ? html`<q>${text}</q>` : '(no text)'}${at ? `, ${formatTime(at)}` : ''}`;
}
