// app.js: the console's shell. Signs in with an API token (kept in sessionStorage only), reads the token's role
// from GET /v1/me, shows the navigation for that role, and renders the screen of the location hash (see
// routes.js for the routes and the screen contract).

import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { clearToken, get, getToken, onUnauthenticated, setToken } from './lib/api.js';
import { ErrorBoundary, Field, Form, Notice, Spinner } from './lib/ui.js';
import { home, match, nav } from './routes.js';

const roleNames = { sysadmin: 'system administrator', 'tenant-admin': 'tenant administrator', 'tenant-viewer': 'viewer' };

function App() {
  const [session, setSession] = useState(null);
  const [checking, setChecking] = useState(!!getToken());
  const [notice, setNotice] = useState('');
  const sessionRef = useRef(null);
  sessionRef.current = session;

  const signOut = (why = '') => {
    clearToken();
    setSession(null);
    setNotice(why);
    history.replaceState(null, '', location.pathname);
  };

  const start = async () => {
    const me = await get('/v1/me');
    setSession({ me, role: me.role, canWrite: me.role !== 'tenant-viewer', signOut: () => signOut('You are signed out.') });
    if (!match(location.hash)) location.hash = home(me.role);
  };

  useEffect(() => {
    // A 401 while signed in ends the session; a 401 of the sign-in itself is the sign-in form's error.
    onUnauthenticated(() => {
      if (sessionRef.current) signOut('Your session ended: the API token is no longer accepted. Sign in again.');
    });
    if (getToken()) {
      start().catch((e) => setNotice(e.message)).finally(() => setChecking(false));
    }
  }, []);

  if (checking) return html`<main id="main" class="narrow"><${Spinner} label="Signing in…" /></main>`;
  if (!session) {
    return html`<${SignIn} notice=${notice} onSignedIn=${async (token) => {
      setToken(token);
      setNotice('');
      try {
        await start();
      } catch (e) {
        clearToken();
        throw e;
      }
    }} />`;
  }
  return html`<${Shell} session=${session} />`;
}

/** The sign-in form: one field, the API token. */
function SignIn({ notice, onSignedIn }) {
  const [token, setTokenValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { document.title = 'Sign in · aicc console'; }, []);
  const submit = async () => {
    if (!token.trim()) {
      setError({ message: 'Enter an API token.', fields: { token: 'is required' } });
      return;
    }
    setBusy(true);
    try {
      await onSignedIn(token.trim());
    } catch (e) {
      const message = e.status === 401 ? 'The API token is not valid: it is unknown, revoked or expired.' : e.message;
      setError({ message, fields: e.status === 401 ? { token: 'is not accepted' } : {} });
      setBusy(false);
    }
  };
  return html`<div class="signin">
    <header class="top"><span class="brand">aicc console</span></header>
    <main id="main" class="narrow">
      <h1>Sign in</h1>
      ${notice && html`<${Notice}>${notice}</${Notice}>`}
      <p>Sign in with an API token. It is kept in this browser tab only, until you sign out or close the tab.</p>
      <${Form} onSubmit=${submit} submitLabel="Sign in" busy=${busy} error=${error} labels=${{ token: 'API token' }}>
        <${Field} label="API token" type="password" autocomplete="off" spellcheck="false" required
          value=${token} onInput=${setTokenValue} error=${error && error.fields.token} />
      </${Form}>
      <p class="hint">A sysadmin creates tokens with <code>aicc tokens create</code> or on the System screen; the
        banner of <code>aicc dev</code> shows its tokens.</p>
    </main>
  </div>`;
}

/** The signed-in layout: header with navigation and sign-out, and the current screen in main. */
function Shell({ session }) {
  const [hash, setHash] = useState(location.hash);
  const mainRef = useRef();
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const found = match(hash);
  const links = nav.filter((n) => n.roles.includes(session.role));
  const skip = (e) => {
    e.preventDefault();
    const target = mainRef.current.querySelector('h1') || mainRef.current;
    target.focus();
  };
  return html`<div class="layout">
    <a class="skip" href="#main" onClick=${skip}>Skip to content</a>
    <header class="top">
      <span class="brand">aicc console</span>
      <nav aria-label="Main">
        <ul>${links.map((n) => html`<li><a href=${n.href}
          aria-current=${hash === n.href || hash.startsWith(n.href + '/') ? 'page' : undefined}>${n.label}</a></li>`)}</ul>
      </nav>
      <div class="who">
        <span>${session.me.name} <span class="role">(${roleNames[session.role] || session.role})</span></span>
        <button type="button" class="btn link" onClick=${session.signOut}>Sign out</button>
      </div>
    </header>
    <main id="main" ref=${mainRef} tabindex="-1">
      ${found
        ? html`<${Screen} key=${hash} route=${found.route} params=${found.params} session=${session} />`
        : html`<h1 tabindex="-1">Not found</h1>
            <${Notice} kind="warning">There is no screen at ${hash || 'this address'}. <a href=${home(session.role)}>Go
              to the start</a>.</${Notice}>`}
    </main>
  </div>`;
}

const loaded = new Map();

/** Loads the route's module (once) and renders its screen, or says why it cannot. */
function Screen({ route, params, session }) {
  const [mod, setMod] = useState(() => loaded.get(route.module));
  const [error, setError] = useState(null);
  useEffect(() => {
    document.title = `${route.title} · aicc console`;
    if (mod || !route.roles.includes(session.role)) return;
    route.load().then((m) => {
      if (typeof m.default !== 'function') throw new Error('it has no default export');
      loaded.set(route.module, m);
      setMod(m);
    }).catch((e) => setError(e));
  }, []);
  useEffect(() => {
    if (!mod) return;
    // Move the focus to the new screen's heading, so that keyboard and screen-reader users start there.
    const h1 = document.querySelector('main h1');
    if (h1 && document.activeElement !== h1 && navigated) {
      h1.setAttribute('tabindex', '-1');
      h1.focus();
    }
    navigated = true;
  }, [mod]);
  if (!route.roles.includes(session.role)) {
    return html`<h1 tabindex="-1">${route.title}</h1><${Notice} kind="warning">This screen is not for a${' '}
      ${roleNames[session.role] || session.role} token. <a href=${home(session.role)}>Go to the start</a>.</${Notice}>`;
  }
  if (error) {
    return html`<h1 tabindex="-1">${route.title}</h1><${Notice} kind="error">
      <p>The ${route.title} screen could not be loaded (${route.module}): ${error.message}.</p>
      <p>Reload the page to try again; if it stays, this server's console files are incomplete.</p></${Notice}>`;
  }
  if (!mod) return html`<${Spinner} />`;
  const View = mod.default;
  return html`<${ErrorBoundary} where=${`The ${route.title} screen`}><${View} params=${params} session=${session} /></${ErrorBoundary}>`;
}

// navigated is false until the first screen has rendered: the first page load keeps the browser's focus.
let navigated = false;

render(html`<${App} />`, document.getElementById('app'));
