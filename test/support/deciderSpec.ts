import * as assert from 'uvu/assert';

/**
 * Given/when/then for pure deciders (after Emmett's DeciderSpecification): the state is folded from the given
 * events with `evolve`, `decide` runs on it, and the decision is checked.
 *
 *   spec(decider).given([callEnded]).when(next(t0)).then({ kind: 'attempt', attempt: 1, causationId: 'e-ended' });
 *   spec(decider).given([]).when(outcome(ok)).thenThrows(/has not ended/);
 *   spec(decider).given([]).when(command).thenNothing();            // decided no events
 *   spec(decider).given([callEnded, failed]).state();                // the folded state, to check `evolve`
 *
 * `then` takes the expected decision (compared with deep equality) or a function that asserts on it.
 */
export interface Decider<Command, Event, State, Decision> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): Decision;
}

export interface WhenSpec<Decision> {
  then(expected: Decision | ((decision: Decision) => void), message?: string): void;
  /** `decide` throws an error whose message matches (any error when no pattern is given). */
  thenThrows(pattern?: RegExp): void;
  /** `decide` decides no events: an empty list, or a decision whose `events` is empty. */
  thenNothing(): void;
}

export interface GivenSpec<Command, State, Decision> {
  when(command: Command): WhenSpec<Decision>;
  state(): State;
}

export function spec<Command, Event, State, Decision>(decider: Decider<Command, Event, State, Decision>) {
  return {
    given(events: Event[] = []): GivenSpec<Command, State, Decision> {
      const state = () => events.reduce((s, e) => decider.evolve(s, e), decider.initialState());
      return {
        state,
        when(command: Command): WhenSpec<Decision> {
          const decide = () => decider.decide(command, state());
          return {
            then(expected, message) {
              const decision = decide();
              if (typeof expected === 'function') (expected as (d: Decision) => void)(decision);
              else assert.equal(decision, expected, message);
            },
            thenThrows(pattern) {
              let thrown: unknown;
              try {
                decide();
              } catch (err) {
                thrown = err;
              }
              assert.ok(thrown !== undefined, 'decide was expected to throw');
              if (pattern) assert.match(String((thrown as Error)?.message ?? thrown), pattern);
            },
            thenNothing() {
              const decision = decide() as unknown;
              const events = Array.isArray(decision) ? decision : (decision as { events?: unknown[] } | null)?.events;
              assert.equal(events, [], 'no events decided');
            },
          };
        },
      };
    },
  };
}
