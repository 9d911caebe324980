import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { GuestPath, Strict, StringMap } from './common.js';

const Argv = Type.Array(Type.String({ maxLength: 65_536 }), { minItems: 1, maxItems: 1024 });

export const StartMessage = Strict({
  type: Type.Literal('start'),
  cmd: Type.Optional(Argv),
  command: Type.Optional(Type.String({ minLength: 1, maxLength: 262_144 })),
  envs: Type.Optional(StringMap(256, 256, 65_536)),
  cwd: Type.Optional(GuestPath),
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  pty: Type.Optional(Type.Boolean()),
  cols: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  timeoutSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
});

export const InputMessage = Type.Union([
  Strict({ type: Type.Literal('stdin'), data: Type.String({ maxLength: 1_400_000 }) }),
  Strict({
    type: Type.Literal('resize'),
    cols: Type.Integer({ minimum: 1, maximum: 1000 }),
    rows: Type.Integer({ minimum: 1, maximum: 1000 }),
  }),
  Strict({ type: Type.Literal('closeStdin') }),
  Strict({
    type: Type.Literal('signal'),
    signal: Type.Union([Type.Literal('SIGTERM'), Type.Literal('SIGKILL')]),
  }),
]);

export const startMessage = TypeCompiler.Compile(StartMessage);
export const inputMessage = TypeCompiler.Compile(InputMessage);
