import { type TSchema, Type } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      reason: Type.Optional(
        Type.String({
          description: 'Why, where a client acts on it: command_not_found, command_not_executable',
        }),
      ),
    }),
  },
  { description: 'Every error: a stable code and a human message' },
);

export const SandboxId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
export const StringMap = (maxKeys: number, maxKey: number, maxValue: number) =>
  Type.Record(Type.String({ minLength: 1, maxLength: maxKey }), Type.String({ maxLength: maxValue }), {
    maxProperties: maxKeys,
  });
export const GuestPath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]+$' });
export const TimeoutSec = Type.Integer({ minimum: 1, maximum: 86_400 });
export const SandboxState = Type.Union(
  ['starting', 'running', 'pausing', 'paused', 'resuming', 'stopped', 'error'].map((s) => Type.Literal(s)),
);

export const Sandbox = Type.Object({
  id: Type.String(),
  state: SandboxState,
  template: Type.Union([Type.String(), Type.Null()]),
  vcpus: Type.Integer(),
  memoryMb: Type.Integer(),
  metadata: Type.Record(Type.String(), Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  timeoutSec: Type.Integer(),
  onTimeout: Type.Union([Type.Literal('kill'), Type.Literal('pause')]),
  error: Type.Union([Type.String(), Type.Null()]),
  network: Type.Union([
    Type.Object({ allowOut: Type.Array(Type.String()), denyOut: Type.Array(Type.String()) }),
    Type.Null(),
  ]),
});

/** Outbound rules: IPv4 addresses or CIDRs; allowOut wins over denyOut; "0.0.0.0/0" is everything. */
export const NetworkBody = Type.Object(
  {
    allowOut: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
    denyOut: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
  },
  { additionalProperties: false },
);

export const Snapshot = Type.Object({
  name: Type.String(),
  sandboxId: Type.Union([Type.String(), Type.Null()]),
  vcpus: Type.Integer(),
  memoryMb: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  builtIn: Type.Boolean(),
  memoryBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'bytes of guest memory the snapshot holds; null when the agent cannot say',
  }),
  diskBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description:
      'bytes its own disk layers take on the host (allocated; the base image not counted); null when unknown',
  }),
});

export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const FileEntry = Type.Object({
  name: Type.String(),
  path: Type.String(),
  type: Type.Union([
    Type.Literal('file'),
    Type.Literal('dir'),
    Type.Literal('symlink'),
    Type.Literal('other'),
  ]),
  size: Type.Number(),
  mode: Type.Integer(),
  permissions: Type.String(),
  owner: Type.String(),
  group: Type.String(),
  modifiedAt: Type.Union([Type.String(), Type.Null()]),
  symlinkTarget: Type.Union([Type.String(), Type.Null()]),
});

/** Closed objects: an unknown field is a 400, never silently dropped. */
export const Strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}
