import { type ConnectionOptions, Host, type TransitionTime } from '@amber/sdk';
import { ErrorBox, Loading } from '../components/error-box.js';
import { bytes } from '../format.js';
import { usePoll } from '../use-poll.js';

/** Bars keep their width until this many are shown. */
const SLOTS = 30;

/** Recent pause and resume times as bars, oldest on the left; each bar says its number to a screen reader. */
function TransitionChart({ items }: { items: TransitionTime[] }) {
  if (items.length === 0) return <p class="muted">No pause or resume yet.</p>;
  const ordered = [...items].reverse();
  const max = Math.max(...ordered.map((t) => t.ms), 1);
  const width = 24;
  const height = 120;
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${Math.max(ordered.length, SLOTS) * width} ${height + 4}`}
        role="img"
        aria-label="Recent pause and resume times"
        preserveAspectRatio="none"
      >
        <title>Recent pause and resume times</title>
        {ordered.map((t, i) => {
          const h = Math.max(2, (t.ms / max) * height);
          return (
            <rect
              key={`${t.at}-${i}`}
              x={i * width + 3}
              y={height - h + 2}
              width={width - 6}
              height={h}
              class={`bar bar-${t.operation}`}
            >
              <title>
                {t.operation} {t.sandboxId}: {Math.round(t.ms)} ms
              </title>
            </rect>
          );
        })}
      </svg>
      <figcaption>
        <span class="swatch bar-pause" /> pause <span class="swatch bar-resume" /> resume — longest{' '}
        {Math.round(max)} ms
      </figcaption>
    </figure>
  );
}

export function HostPage({ conn }: { conn: ConnectionOptions }) {
  const stats = usePoll(() => Host.stats({ transitions: 30 }, conn), 3000);
  const s = stats.data;
  return (
    <section aria-labelledby="host-title">
      <h1 id="host-title">Host</h1>
      <ErrorBox error={stats.error} />
      {!s && stats.loading && <Loading what="host stats" />}
      {s && (
        <div class="grid">
          <div class="card">
            <h2>Memory budget</h2>
            <meter
              class="meter"
              min={0}
              max={s.memory.budgetMib}
              value={s.memory.committedMib}
              aria-label="Memory committed"
            />
            <p>
              <strong>{bytes(s.memory.committedMib * 1024 * 1024)}</strong> used,{' '}
              <strong>{bytes(s.memory.freeMib * 1024 * 1024)}</strong> free of{' '}
              {bytes(s.memory.budgetMib * 1024 * 1024)}
            </p>
            <p class="muted">
              {s.agentSandboxes} sandboxes on the agent · {s.accel.toUpperCase()} · {s.hostId}
            </p>
          </div>
          <div class="card">
            <h2>Sandboxes by state</h2>
            <dl class="counts" data-testid="states">
              {Object.entries(s.sandboxesByState).map(([state, count]) => (
                <div key={state}>
                  <dt>
                    <span class={`state state-${state}`}>{state}</span>
                  </dt>
                  <dd>{count}</dd>
                </div>
              ))}
            </dl>
          </div>
          <div class="card">
            <h2>Snapshot disk</h2>
            {s.snapshotDisk ? (
              <p>
                <strong>{bytes(s.snapshotDisk.totalBytes)}</strong>: templates{' '}
                {bytes(s.snapshotDisk.templatesBytes)}, sandboxes' own snapshots{' '}
                {bytes(s.snapshotDisk.sandboxesBytes)}
              </p>
            ) : (
              <p class="muted">The agent's files are on another machine.</p>
            )}
          </div>
          <div class="card wide">
            <h2>Recent pauses and resumes</h2>
            <TransitionChart items={s.recentTransitions} />
          </div>
        </div>
      )}
    </section>
  );
}
