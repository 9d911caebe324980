import { type ConnectionOptions, Sandbox, Snapshot, type SnapshotInfo } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ActionButton, ConfirmButton } from '../components/buttons.js';
import { ErrorBox, Loading } from '../components/error-box.js';
import { age, templateSize } from '../format.js';
import { href } from '../router.js';
import { useNow, usePoll } from '../use-poll.js';

function CreateTemplate({ conn, onCreated }: { conn: ConnectionOptions; onCreated: (name: string) => void }) {
  const sandboxes = usePoll(() => Sandbox.list({ state: ['running', 'paused'] }, conn), 5000);
  const [sandboxId, setSandboxId] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const chosen = sandboxId || sandboxes.data?.[0]?.id || '';
  return (
    <form
      class="card create"
      aria-label="Create a template"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          await Snapshot.create(chosen, name.trim(), {}, conn);
          onCreated(name.trim());
          setName('');
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>New template from a sandbox</h2>
      <div class="fields">
        <label>
          Sandbox
          <select name="sandbox" value={chosen} onChange={(e) => setSandboxId(e.currentTarget.value)}>
            {(sandboxes.data ?? []).map((sb) => (
              <option key={sb.id} value={sb.id}>
                {sb.id} ({sb.state})
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input
            name="template-name"
            required
            pattern="[a-z0-9][a-z0-9._\-]{0,62}"
            title="lowercase letters, digits, . _ -"
            placeholder="my-template"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
      </div>
      <ErrorBox error={sandboxes.error} />
      <ErrorBox error={error} />
      {sandboxes.data?.length === 0 && <p class="muted">No running or paused sandbox to freeze.</p>}
      <button type="submit" class="primary" disabled={busy || !chosen}>
        {busy ? 'Freezing…' : 'Create template'}
      </button>
    </form>
  );
}

/** The total first; what it is made of on a second line (also its tooltip), so a phone's card stays narrow. */
function SizeCell({ t }: { t: SnapshotInfo }) {
  const size = templateSize(t);
  return (
    <td data-label="Size on host" data-testid="template-size" title={size.detail}>
      <div>
        {size.total}
        <div class="muted sub">{size.detail}</div>
      </div>
    </td>
  );
}

export function TemplatesPage({ conn }: { conn: ConnectionOptions }) {
  const list = usePoll(() => Snapshot.list(conn), 5000);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<{ text: string; id?: string }>();
  const now = useNow(5000);
  const templates = (list.data ?? []).filter((t) => !t.builtIn);
  return (
    <section aria-labelledby="templates-title">
      <h1 id="templates-title">Templates</h1>
      <CreateTemplate
        conn={conn}
        onCreated={(name) => {
          setNotice({ text: `Template ${name} created` });
          void list.reload();
        }}
      />
      {notice && (
        <p class="notice" role="status">
          {notice.text}
          {notice.id && (
            <>
              {' '}
              <a href={href.sandbox(notice.id)}>Open it</a>
            </>
          )}
        </p>
      )}
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <ErrorBox error={list.error} />
      {!list.data && list.loading && <Loading what="templates" />}
      {list.data && templates.length === 0 && <p class="empty">No templates yet: freeze a sandbox above.</p>}
      {templates.length > 0 && (
        <table class="list" aria-label="Templates">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Shape</th>
              <th scope="col">Size on host</th>
              <th scope="col">Source sandbox</th>
              <th scope="col">Age</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <tr key={t.name} data-name={t.name}>
                <td data-label="Name" class="mono">
                  {t.name}
                </td>
                <td data-label="Shape">
                  {t.vcpus} vCPU, {t.memoryMb} MiB
                </td>
                <SizeCell t={t} />
                <td data-label="Source sandbox" class="mono">
                  {t.sandboxId ?? '—'}
                </td>
                <td data-label="Age">{age(t.createdAt, now)}</td>
                <td data-label="Actions">
                  <div class="actions">
                    <ActionButton
                      run={async () => {
                        const sb = await Sandbox.create({ template: t.name }, conn);
                        setNotice({ text: `Spawned ${sb.id} from ${t.name}`, id: sb.id });
                      }}
                      onError={setError}
                      busyLabel="Spawning…"
                      label={`Spawn from ${t.name}`}
                    >
                      Spawn
                    </ActionButton>
                    <ConfirmButton
                      run={async () => {
                        await Snapshot.delete(t.name, conn);
                        setNotice({ text: `Template ${t.name} deleted` });
                        await list.reload();
                      }}
                      onError={setError}
                      confirmLabel="Really delete"
                      label={`Delete ${t.name}`}
                    >
                      Delete
                    </ConfirmButton>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
