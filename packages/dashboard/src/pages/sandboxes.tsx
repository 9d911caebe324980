import { type ConnectionOptions, Sandbox, type SandboxState, Snapshot } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ErrorBox, Loading } from '../components/error-box.js';
import { age, parsePairs, timeLeft } from '../format.js';
import { href } from '../router.js';
import { useNow, usePoll } from '../use-poll.js';
import { CreateSandbox } from './create-sandbox.js';
import { SandboxActions } from './sandbox-actions.js';

const STATES: SandboxState[] = ['running', 'paused', 'starting', 'pausing', 'resuming', 'stopped', 'error'];
const POLL_MS = 2000;

export function SandboxesPage({ conn }: { conn: ConnectionOptions }) {
  const [state, setState] = useState<'' | SandboxState>('');
  const [metadataText, setMetadataText] = useState('');
  const [actionError, setActionError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const now = useNow();
  let metadata: Record<string, string> | undefined;
  let filterError: unknown;
  try {
    const pairs = parsePairs(metadataText);
    metadata = Object.keys(pairs).length > 0 ? pairs : undefined;
  } catch (err) {
    filterError = err;
  }
  const filterKey = JSON.stringify([state, metadata ?? null]);
  const list = usePoll(
    () => Sandbox.list({ ...(state && { state }), ...(metadata && { metadata }) }, conn),
    POLL_MS,
    [filterKey],
  );
  const templates = usePoll(() => Snapshot.list(conn), 15_000);
  const done = () => void list.reload();
  return (
    <section aria-labelledby="sandboxes-title">
      <h1 id="sandboxes-title">Sandboxes</h1>
      <CreateSandbox
        conn={conn}
        templates={templates.data ?? []}
        onCreated={(sb) => {
          setNotice(`Created ${sb.id}`);
          done();
        }}
      />
      <form class="filters" aria-label="Filter sandboxes" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select
            name="state"
            value={state}
            onChange={(e) => setState(e.currentTarget.value as '' | SandboxState)}
          >
            <option value="">all</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="wide">
          Metadata
          <input
            name="metadata-filter"
            placeholder="key=value, key2=value2"
            value={metadataText}
            onInput={(e) => setMetadataText(e.currentTarget.value)}
          />
        </label>
      </form>
      <ErrorBox error={filterError} />
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={actionError} onDismiss={() => setActionError(undefined)} />
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="sandboxes" />
      ) : list.data && list.data.length === 0 ? (
        <p class="empty">
          No sandboxes{state || metadata ? ' match these filters' : ' yet: create one above'}.
        </p>
      ) : list.data ? (
        <table class="list sandboxes" aria-label="Sandboxes">
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">State</th>
              <th scope="col">Template</th>
              <th scope="col">vCPUs</th>
              <th scope="col">Memory</th>
              <th scope="col">Age</th>
              <th scope="col">Time left</th>
              <th scope="col">Metadata</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((sb) => (
              <tr key={sb.id} data-id={sb.id} data-state={sb.state}>
                <td data-label="ID">
                  <a href={href.sandbox(sb.id)} class="mono">
                    {sb.id}
                  </a>
                </td>
                <td data-label="State">
                  <span class={`state state-${sb.state}`}>{sb.state}</span>
                </td>
                <td data-label="Template">{sb.info.template ?? <em>cold boot</em>}</td>
                <td data-label="vCPUs">{sb.info.vcpus}</td>
                <td data-label="Memory">{sb.info.memoryMb} MiB</td>
                <td data-label="Age">{age(sb.info.createdAt, now)}</td>
                <td data-label="Time left">{timeLeft(sb.info.expiresAt, now)}</td>
                <td data-label="Metadata" class="meta">
                  {Object.entries(sb.info.metadata)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ') || '—'}
                </td>
                <td data-label="Actions">
                  <SandboxActions
                    sb={sb}
                    onDone={done}
                    onError={setActionError}
                    onForked={(ids) => setNotice(`Forked ${sb.id} into ${ids.join(', ')}`)}
                    onKilled={() => setNotice(`Killed ${sb.id}`)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
