/**
 * Why an instance failed. Recorded on the instance and its attempt; `retryable` decides
 * whether the flow's retry policy applies.
 */
export const failureKinds = [
  'timed-out',
  'out-of-memory',
  'trapped',
  'exited',
  'task-error',
  'output-limit',
  'too-many-outputs',
  'sandbox-violation',
  'invalid-plan',
  'missing-secret',
  'lost',
  'cancelled',
  'internal',
] as const;
export type FailureKind = (typeof failureKinds)[number];

export interface Failure {
  kind: FailureKind;
  message: string;
  retryable: boolean;
  /** Exit code, for kind 'exited'. */
  code?: number;
}

/**
 * Thrown by host functions to end an instance at once (exit, a denied capability, a cap reached).
 * It is an Error so jco's bindings let it unwind through the guest instead of lowering it as a value.
 */
export class InstanceAbort extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'InstanceAbort';
  }
}

export class ExitSignal extends InstanceAbort {
  constructor(readonly code: number) {
    super({ kind: 'exited', code, message: `exited with code ${code}`, retryable: true });
  }
}

export function sandboxViolation(what: string): InstanceAbort {
  return new InstanceAbort({
    kind: 'sandbox-violation',
    message: `sandbox violation: ${what} is not granted to this task`,
    retryable: false,
  });
}
