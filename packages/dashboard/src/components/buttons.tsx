import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

interface ActionProps {
  /** The work; a rejection goes to `onError`. */
  run: () => Promise<unknown>;
  onError: (err: unknown) => void;
  children: ComponentChildren;
  busyLabel?: string;
  class?: string;
  disabled?: boolean;
  label?: string;
}

/** A button that runs an API call, shows that it is busy, and reports a failure instead of throwing it. */
export function ActionButton(props: ActionProps) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={props.class}
      disabled={busy || props.disabled}
      aria-busy={busy}
      aria-label={props.label}
      onClick={async () => {
        setBusy(true);
        try {
          await props.run();
        } catch (err) {
          props.onError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? (props.busyLabel ?? '…') : props.children}
    </button>
  );
}

/** Two clicks for what cannot be undone: the first arms it, the second does it (no blocking dialog). */
export function ConfirmButton(props: ActionProps & { confirmLabel: string }) {
  const [armed, setArmed] = useState(false);
  if (!armed) {
    return (
      <button
        type="button"
        class={props.class}
        disabled={props.disabled}
        aria-label={props.label}
        onClick={() => setArmed(true)}
      >
        {props.children}
      </button>
    );
  }
  return (
    <span class="confirm">
      <ActionButton {...props} class="danger" run={props.run} label={undefined}>
        {props.confirmLabel}
      </ActionButton>
      <button type="button" class="link" onClick={() => setArmed(false)}>
        Cancel
      </button>
    </span>
  );
}
