import type { ConnectionOptions } from '@amber/sdk';
import { useEffect, useState } from 'preact/hooks';
import { HostPage } from './pages/host.js';
import { KeysPage } from './pages/keys.js';
import { SandboxPage } from './pages/sandbox.js';
import { SandboxesPage } from './pages/sandboxes.js';
import { SignIn } from './pages/sign-in.js';
import { TemplatesPage } from './pages/templates.js';
import { href, type Route, useRoute } from './router.js';
import { connection, forgetKey, storedKey } from './session.js';

const TITLES: Record<Route['page'], string> = {
  sandboxes: 'Sandboxes',
  sandbox: 'Sandbox',
  templates: 'Templates',
  keys: 'API keys',
  host: 'Host',
};

function Nav({ route, onSignOut }: { route: Route; onSignOut: () => void }) {
  const links: Array<[string, string, Route['page'][]]> = [
    ['Sandboxes', href.sandboxes, ['sandboxes', 'sandbox']],
    ['Templates', href.templates, ['templates']],
    ['Keys', href.keys, ['keys']],
    ['Host', href.host, ['host']],
  ];
  return (
    <header class="top">
      <a class="brand" href={href.sandboxes}>
        <img src="/favicon.svg" alt="" width={22} height={22} />
        Amber
      </a>
      <nav aria-label="Pages">
        {links.map(([label, to, pages]) => (
          <a key={to} href={to} aria-current={pages.includes(route.page) ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <button type="button" class="link signout" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function Page({ route, conn }: { route: Route; conn: ConnectionOptions }) {
  switch (route.page) {
    case 'sandbox':
      return <SandboxPage key={route.id} id={route.id} conn={conn} />;
    case 'templates':
      return <TemplatesPage conn={conn} />;
    case 'keys':
      return <KeysPage conn={conn} />;
    case 'host':
      return <HostPage conn={conn} />;
    default:
      return <SandboxesPage conn={conn} />;
  }
}

export function App() {
  const [apiKey, setApiKey] = useState(storedKey);
  const route = useRoute();
  useEffect(() => {
    document.title = apiKey ? `${TITLES[route.page]} · Amber` : 'Sign in · Amber';
  }, [route, apiKey]);
  if (!apiKey) return <SignIn onSignedIn={setApiKey} />;
  const signOut = () => {
    forgetKey();
    setApiKey(null);
  };
  return (
    <>
      <Nav route={route} onSignOut={signOut} />
      <main id="main">
        <Page route={route} conn={connection(apiKey)} />
      </main>
    </>
  );
}
