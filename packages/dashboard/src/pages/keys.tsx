import { ApiKeys, type ConnectionOptions, type CreatedApiKey } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ConfirmButton } from '../components/buttons.js';
import { ErrorBox, Loading } from '../components/error-box.js';
import { usePoll } from '../use-poll.js';

async function copy(text: string, field: HTMLInputElement | null): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (plain http off loopback): select it, so a Ctrl+C takes it.
    field?.select();
    document.execCommand('copy');
  }
}

function NewKey({ created, onClose }: { created: CreatedApiKey; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  let field: HTMLInputElement | null = null;
  return (
    <section class="card new-key" aria-label="The new key">
      <p>
        <strong>{created.name}</strong>: copy it now, it is never shown again.
      </p>
      <div class="toolbar">
        <input
          ref={(el) => {
            field = el;
          }}
          class="mono grow"
          readOnly
          value={created.key}
          aria-label="New API key"
          data-testid="new-key"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button
          type="button"
          onClick={async () => {
            await copy(created.key, field);
            setCopied(true);
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" class="link" onClick={onClose}>
          Done
        </button>
      </div>
    </section>
  );
}

export function KeysPage({ conn }: { conn: ConnectionOptions }) {
  const list = usePoll(() => ApiKeys.list(conn), 10_000);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedApiKey>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const mine = conn.apiKey?.slice(0, 8);
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <form
        class="card create"
        aria-label="Create a key"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            setCreated(await ApiKeys.create(name.trim(), conn));
            setName('');
            await list.reload();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="fields">
          <label class="wide">
            Name
            <input
              name="key-name"
              required
              maxLength={100}
              placeholder="ci, laptop, …"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
        </div>
        <button type="submit" class="primary" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {created && <NewKey created={created} onClose={() => setCreated(undefined)} />}
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <ErrorBox error={list.error} />
      {!list.data && list.loading && <Loading what="keys" />}
      {list.data && (
        <table class="list" aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((k) => (
              <tr key={k.id} data-name={k.name}>
                <td data-label="Name">{k.name}</td>
                <td data-label="Prefix" class="mono">
                  {k.prefix}…{mine && k.prefix === mine ? ' (this session)' : ''}
                </td>
                <td data-label="Created">{new Date(k.createdAt).toLocaleString()}</td>
                <td data-label="Last used">
                  {k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}
                </td>
                <td data-label="Actions">
                  <ConfirmButton
                    run={async () => {
                      await ApiKeys.delete(k.id, conn);
                      await list.reload();
                    }}
                    onError={setError}
                    confirmLabel="Really revoke"
                    label={`Revoke ${k.name}`}
                  >
                    Revoke
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
