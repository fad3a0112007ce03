// Newly created (#/new): the seed's procedure as a wizard. Channel information (Table 1), Basic configuration
// (Table 2) and Robot configuration (Table 3), then "The next step" creates the channel and shows the callback
// URL and verification code to paste into Meta for Developers, waits for Meta's verification, takes the Pages,
// and Submit makes the access successful. Every field error the API answers is shown next to its field, on its
// step, with the focus on the first.

import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { Button, ErrorSummary, Notice, Spinner } from '../lib/ui.js';
import { OnboardingPanel, PagesPanel } from './channel-parts.js';
import {
  BasicFields, InfoFields, RobotFields, directoryLists, emptyDraft, labels, loadDirectory, onRows, stepOf, toBody,
} from './channel-form.js';

const steps = ['Channel information', 'Basic configuration', 'Robot configuration'];

export default function Wizard({ session }) {
  const [created, setCreated] = useState(null); // {channel, metaSetup} once the channel exists
  if (!session.canWrite) {
    return html`<h1>Newly created</h1><${Notice} kind="warning">A viewer token cannot create channels.</${Notice}>`;
  }
  if (created) return html`<${Onboarding} created=${created} setCreated=${setCreated} />`;
  return html`<${ChannelForm} onCreated=${setCreated} />`;
}

/** The three steps of the channel's configuration; the last one's "The next step" creates the channel. */
function ChannelForm({ onCreated }) {
  const [step, setStep] = useState(0);
  const [d, setDraft] = useState(emptyDraft);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const headingRef = useRef();
  const formRef = useRef();
  const focusTarget = useRef('heading');
  const directory = useLoad(loadDirectory, []);
  const lists = directoryLists(directory.data);

  useEffect(() => {
    if (focusTarget.current === 'error') {
      const first = formRef.current && formRef.current.querySelector('[aria-invalid="true"]');
      (first || formRef.current.querySelector('.error-summary') || headingRef.current).focus();
    } else if (focusTarget.current === 'heading') {
      headingRef.current && headingRef.current.focus();
    }
    focusTarget.current = '';
  }, [step, error]);

  const set = (key) => (value) => setDraft((old) => ({ ...old, [key]: value }));
  const err = (path) => (error && error.fields[path]) || '';
  const go = (to) => {
    focusTarget.current = 'heading';
    setStep(to);
  };
  const submit = async (e) => {
    e.preventDefault();
    if (step < steps.length - 1) {
      go(step + 1);
      return;
    }
    setBusy(true);
    try {
      onCreated(await api('POST', '/v1/channels', toBody(d)));
    } catch (caught) {
      const ex = onRows(caught, d);
      const paths = Object.keys(ex.fields || {});
      focusTarget.current = 'error';
      if (paths.length) setStep(Math.min(...paths.map(stepOf)));
      setError(ex);
      setBusy(false);
    }
  };
  const errorsElsewhere = error && Object.keys(error.fields).some((p) => stepOf(p) !== step);

  return html`
    <h1>Newly created</h1>
    <p>Configure Channel: connect a Facebook application to AICC. One Facebook application connects to one channel.</p>
    <ol class="steps" aria-label="Steps">
      ${steps.map((s, i) => html`<li aria-current=${i === step ? 'step' : undefined} class=${i < step ? 'done' : ''}>
        ${i + 1}. ${s}</li>`)}
      <li>4. The next step</li>
    </ol>
    ${directory.error && html`<${Notice} kind="error">The OUs and skill queues could not be loaded: ${directory.error.message}</${Notice}>`}
    <form ref=${formRef} noValidate onSubmit=${submit}>
      <h2 ref=${headingRef} tabindex="-1">${steps[step]}</h2>
      ${error && html`<${ErrorSummary} error=${error} labels=${labels} />`}
      ${errorsElsewhere && html`<p class="hint">Some errors are on other steps: use Back and Next to reach them.</p>`}
      ${step === 0 && html`<${InfoFields} d=${d} set=${set} err=${err} />`}
      ${step === 1 && html`<${BasicFields} d=${d} set=${set} err=${err} directory=${lists} />`}
      ${step === 2 && html`<${RobotFields} d=${d} set=${set} err=${err} errors=${error && error.fields} directory=${lists} />`}
      <div class="actions">
        ${step > 0 && html`<${Button} onClick=${() => go(step - 1)}>Back</${Button}>`}
        <${Button} type="submit" kind="primary" busy=${busy}>${step < steps.length - 1 ? 'Next' : 'The next step'}</${Button}>
        <a href="#/channels">Cancel</a>
      </div>
    </form>`;
}

/** After the channel is created: The next step (Meta's verification), the Pages, and Submit. */
function Onboarding({ created, setCreated }) {
  const channel = created.channel;
  const [setup, setSetup] = useState(created.metaSetup);
  const [status, setStatus] = useState(channel.onboarding.status);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const headingRef = useRef();
  useEffect(() => { headingRef.current.focus(); }, [!!done]);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const ch = await api('POST', `/v1/channels/${encodeURIComponent(channel.id)}/onboarding/confirm`);
      setCreated({ ...created, channel: ch });
      setDone(ch);
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };

  if (done) {
    return html`<h1 ref=${headingRef} tabindex="-1">Successful access</h1>
      <${Notice} kind="success">Channel ${done.name} is active: messages to its Pages reach the skill queue.</${Notice}>
      <p><a href=${`#/channels/${encodeURIComponent(done.id)}`}>Open channel ${done.name}</a>${' · '}<a
        href="#/channels">Back to the channel list</a></p>`;
  }
  const verified = status === 'verified';
  return html`
    <h1 ref=${headingRef} tabindex="-1">The next step</h1>
    <p>Channel <a href=${`#/channels/${encodeURIComponent(channel.id)}`}>${channel.name}</a> is created.
      Configure the URL and verification code in Meta for Developers; when Meta has verified them, add the Pages
      and click Submit.</p>
    ${channel.warnings && channel.warnings.map((w) => html`<${Notice} kind="warning">${w}</${Notice}>`)}
    <${OnboardingPanel} channel=${channel} setup=${setup} onSetup=${setSetup} canWrite
      onChange=${(o) => setStatus(o.status)} />
    ${(verified || status === 'active') ? html`<${PagesPanel} channelId=${channel.id} canWrite />`
      : html`<p class="hint">The Pages can be added once Meta has verified the callback URL.</p>`}
    <h2>Submit</h2>
    <p>Submit once Meta has verified the callback URL and at least one Page is subscribed.</p>
    ${error && html`<${Notice} kind="error">${error.message}</${Notice}>`}
    <div class="actions">
      <${Button} kind="primary" busy=${busy} onClick=${confirm}>Submit</${Button}>
      ${!verified && html`<${Spinner} label="Waiting for Meta's verification…" />`}
    </div>`;
}
