// routes.js: the console's screens, by hash route (#/channels/ch_123), each loaded on first use.
//
// The screen contract: a module under screens/ whose default export is a Preact component receiving
//
//   params   the route's parameters by name, e.g. {channelId: 'ch_123'} for #/channels/:channelId
//   session  {me, role, canWrite, signOut}: me is GET /v1/me (the token's id, name, role, tenantId,
//            expiresAt); role is 'sysadmin', 'tenant-admin' or 'tenant-viewer'; canWrite is true for the
//            roles that may change things (tenant-admin, sysadmin). A screen renders no write control at all
//            (not a disabled one) when canWrite is false. signOut() ends the session.
//
// A screen starts with its <h1> (the app focuses it after each navigation), talks to the API through
// lib/api.js, and builds on lib/ui.js and lib/hooks.js. A module that cannot be loaded, or throws while
// rendering, is reported in the main area; the rest of the console keeps working.

/** The roles that belong to a tenant: they see the tenant's channels, exports and directory. */
export const tenantRoles = ['tenant-admin', 'tenant-viewer'];

/** Every route: pattern (":name" is a parameter), title, the roles it is for, and its module. */
export const routes = [
  { pattern: '/channels', title: 'Channels', roles: tenantRoles,
    module: 'screens/channels.js', load: () => import('./screens/channels.js') },
  { pattern: '/new', title: 'Newly created', roles: ['tenant-admin'],
    module: 'screens/wizard.js', load: () => import('./screens/wizard.js') },
  { pattern: '/channels/:channelId', title: 'Channel', roles: tenantRoles,
    module: 'screens/channel.js', load: () => import('./screens/channel.js') },
  { pattern: '/channels/:channelId/conversations', title: 'Conversations', roles: tenantRoles,
    module: 'screens/conversations.js', load: () => import('./screens/conversations.js') },
  { pattern: '/conversations/:conversationId', title: 'Conversation', roles: tenantRoles,
    module: 'screens/conversations.js', load: () => import('./screens/conversations.js') },
  { pattern: '/exports', title: 'Exports', roles: tenantRoles,
    module: 'screens/exports.js', load: () => import('./screens/exports.js') },
  { pattern: '/exports/:exportId', title: 'Export', roles: tenantRoles,
    module: 'screens/exports.js', load: () => import('./screens/exports.js') },
  { pattern: '/directory', title: 'Directory', roles: tenantRoles,
    module: 'screens/directory.js', load: () => import('./screens/directory.js') },
  // A tenant-admin manages its tenant's API tokens here, and sees nothing else of the System screen.
  { pattern: '/system', title: 'System', roles: ['sysadmin', 'tenant-admin'],
    module: 'screens/system.js', load: () => import('./screens/system.js') },
];

/** The navigation's links, each shown to the roles given. */
export const nav = [
  { href: '#/channels', label: 'Channels', roles: tenantRoles },
  { href: '#/exports', label: 'Exports', roles: tenantRoles },
  { href: '#/directory', label: 'Directory', roles: tenantRoles },
  { href: '#/system', label: 'System', roles: ['sysadmin'] },
  { href: '#/system', label: 'API tokens', roles: ['tenant-admin'] },
];

/** The route a role starts on. */
export function home(role) {
  return role === 'sysadmin' ? '#/system' : '#/channels';
}

/** The route and its parameters for a location hash ('#/channels/ch_1'), or null when none matches. */
export function match(hash) {
  const parts = hash.replace(/^#/, '').split('?')[0].split('/').filter(Boolean);
  for (const route of routes) {
    const want = route.pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    const ok = want.every((w, i) => {
      if (w.startsWith(':')) {
        try {
          params[w.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          return false; // a malformed escape ('%zz') names nothing: the Not found screen
        }
        return true;
      }
      return w === parts[i];
    });
    if (ok) return { route, params };
  }
  return null;
}
