import type { Sandbox } from '@amber/sdk';
import { ErrorBox, Loading } from '../components/error-box.js';
import { usePoll } from '../use-poll.js';

export function EventHistory({ sb }: { sb: Sandbox }) {
  // The sandbox object changes at every poll; its id does not.
  const events = usePoll(() => sb.events({ limit: 100 }), 3000, [sb.id]);
  return (
    <div class="card">
      <ErrorBox error={events.error} />
      {!events.data && events.loading && <Loading what="events" />}
      {events.data && (
        <ol class="events" aria-label="Event history">
          {[...events.data].reverse().map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time> <strong>{e.type}</strong>
              {e.state && e.state !== e.type && <span> → {e.state}</span>}
              {e.message && <span class="muted"> {e.message}</span>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
