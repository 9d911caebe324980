import type { Sandbox } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ActionButton, ConfirmButton } from '../components/buttons.js';

/** Pause or resume, fork, set the timeout, kill: what the list and the sandbox page both offer. */
export function SandboxActions(props: {
  sb: Sandbox;
  onDone: () => void;
  onError: (err: unknown) => void;
  onForked?: (ids: string[]) => void;
  onKilled?: () => void;
}) {
  const { sb, onDone, onError } = props;
  const [timeoutOpen, setTimeoutOpen] = useState(false);
  const [timeoutSec, setTimeoutSec] = useState(String(sb.info.timeoutSec));
  const state = sb.state;
  const label = (verb: string) => `${verb} ${sb.id}`;
  return (
    <div class="actions">
      {state === 'paused' ? (
        <ActionButton
          run={() => sb.resume().then(onDone)}
          onError={onError}
          busyLabel="Resuming…"
          label={label('Resume')}
        >
          Resume
        </ActionButton>
      ) : (
        <ActionButton
          run={() => sb.pause().then(onDone)}
          onError={onError}
          busyLabel="Pausing…"
          disabled={state !== 'running'}
          label={label('Pause')}
        >
          Pause
        </ActionButton>
      )}
      <ActionButton
        run={async () => {
          const forks = await sb.fork(1);
          props.onForked?.(forks.map((f) => f.id));
          onDone();
        }}
        onError={onError}
        busyLabel="Forking…"
        disabled={state !== 'running' && state !== 'paused'}
        label={label('Fork')}
      >
        Fork
      </ActionButton>
      {timeoutOpen ? (
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              await sb.setTimeout(Number(timeoutSec));
              setTimeoutOpen(false);
              onDone();
            } catch (err) {
              onError(err);
            }
          }}
        >
          <input
            type="number"
            min={1}
            max={86400}
            aria-label={`Timeout in seconds for ${sb.id}`}
            value={timeoutSec}
            onInput={(e) => setTimeoutSec(e.currentTarget.value)}
          />
          <button type="submit">Set</button>
          <button type="button" class="link" onClick={() => setTimeoutOpen(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button
          type="button"
          disabled={state !== 'running'}
          aria-label={label('Extend the timeout of')}
          onClick={() => setTimeoutOpen(true)}
        >
          Extend
        </button>
      )}
      <ConfirmButton
        run={async () => {
          await sb.kill();
          props.onKilled?.();
          onDone();
        }}
        onError={onError}
        busyLabel="Killing…"
        confirmLabel="Really kill"
        label={label('Kill')}
      >
        Kill
      </ConfirmButton>
    </div>
  );
}
