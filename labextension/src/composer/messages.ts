/**
 * The custom messages the composer view sends to its Python model
 * (`scanflow_jupyter/notebook/widgets/composer.py`, `ViewMessage`); see PROTOCOL.md.
 */
import { Field, ParamType } from './spec';

/** What the palette adds: a script step, a function step, or a nested workflow. */
export type StepKind = 'script' | 'function' | 'workflow';

export type ComposerMessage =
  | { event: 'add'; group: string; name: string; script?: string; kind?: StepKind }
  | { event: 'connect'; source: string; target: string }
  | { event: 'disconnect'; source: string; target: string }
  | { event: 'delete'; address: string }
  | { event: 'group'; addresses: string[]; name: string }
  | { event: 'set_param'; address: string; name: string; value: string; type?: ParamType }
  | { event: 'remove_param'; address: string; name: string }
  | { event: 'set_field'; address: string; field: Field; value: string }
  | { event: 'save' }
  | { event: 'export' };
