import { ApiKeys } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/error-box.js';
import { connection, storeKey } from '../session.js';

/** Asks for a key and checks it with one call before keeping it, so a wrong key is told at once. */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    setBusy(true);
    setError(undefined);
    try {
      await ApiKeys.list(connection(trimmed));
      storeKey(trimmed);
      onSignedIn(trimmed);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Amber
        </h1>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          placeholder="e2b_…"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <p class="hint">
          A local instance's key is in <code>~/.amber/api-key</code>. It is kept in this tab only.
        </p>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
