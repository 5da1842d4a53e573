/**
 * The workflow tree sent by the Python model (`spec` trait, see widgets/PROTOCOL.md),
 * read defensively: the view must draw what it can from a partial or odd spec,
 * never throw on it (widgets/spec.ts reads the tree).
 */
import { Tree, TreeNode, isGroup, readTree, walk } from '../widgets/spec';

export { findNode, isGroup, walk } from '../widgets/spec';
export type { NodeKind } from '../widgets/spec';

/** Node states of the engine (`scanflow_jupyter.engine`), in PROTOCOL.md order. */
export const STATES = [
  'pending',
  'queued',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cached',
  'cancelled'
] as const;

export type State = (typeof STATES)[number];

/** One node of the tree; `nodes` is empty for a step. */
export type SpecNode = TreeNode<SpecNode>;

export type GraphSpec = Tree<SpecNode>;

/** `states` trait: address -> state name. */
export type StateMap = { [address: string]: string };

/** Per-step details (`info` trait). */
export interface StepInfo {
  params?: { [name: string]: unknown } | null;
  state?: string | null;
  duration?: number | null;
  log_tail?: string | null;
  mlflow_run_id?: string | null;
  mlflow_url?: string | null;
  /** The tracking URI of a store that is not a server (SQLite, files), to open the run in the run browser. */
  mlflow_store?: string | null;
  mlflow_experiment_id?: string | null;
  /** The last value of each metric the step's MLflow run logged (at most 12, by name). */
  metrics?: { [name: string]: number } | null;
  error?: string | null;
  /** A checker step's drift verdict line ("DRIFT: p = ..." or "NO DRIFT: p = ..."). */
  verdict?: string | null;
}

export type InfoMap = { [address: string]: StepInfo };

/** Whether `value` is one of the engine's node states. */
export function isState(value: unknown): value is State {
  return typeof value === 'string' && (STATES as readonly string[]).includes(value);
}

/** A known state, or `pending` for anything else (absent, null, a typo). */
export function toState(value: unknown): State {
  return typeof value === 'string' && (STATES as readonly string[]).includes(value)
    ? (value as State)
    : 'pending';
}

/** The state of the step at `address` (`pending` when absent). */
export function stateOf(states: StateMap | null | undefined, address: string): State {
  return toState(states ? states[address] : undefined);
}

/**
 * Read the `spec` trait. Returns `null` when there is nothing to draw
 * (the default `{}` before Python sets a workflow).
 */
export function readSpec(raw: unknown): GraphSpec | null {
  return readTree<SpecNode>(raw, node => node);
}

/** The addresses of the steps (executors and services) inside a group, at any depth. */
export function leafAddresses(node: SpecNode): string[] {
  const out: string[] = [];
  for (const sub of walk(node)) {
    if (!isGroup(sub)) {
      out.push(sub.address);
    }
  }
  return out;
}
