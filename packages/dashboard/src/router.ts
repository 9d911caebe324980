// Hash routes (#/sandboxes/<id>): the control plane serves one index.html and needs no fallback route.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'sandboxes' }
  | { page: 'sandbox'; id: string }
  | { page: 'templates' }
  | { page: 'keys' }
  | { page: 'host' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  switch (parts[0]) {
    case 'sandboxes':
      return parts[1] ? { page: 'sandbox', id: decodeURIComponent(parts[1]) } : { page: 'sandboxes' };
    case 'templates':
      return { page: 'templates' };
    case 'keys':
      return { page: 'keys' };
    case 'host':
      return { page: 'host' };
    default:
      return { page: 'sandboxes' };
  }
}

export const href = {
  sandboxes: '#/sandboxes',
  sandbox: (id: string) => `#/sandboxes/${encodeURIComponent(id)}`,
  templates: '#/templates',
  keys: '#/keys',
  host: '#/host',
};

export function navigate(to: string): void {
  location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
