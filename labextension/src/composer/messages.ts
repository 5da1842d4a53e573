/**
 * The custom messages the composer view sends to its Python model
 * (`scanflow_jupyter/notebook/widgets/composer.py`, `ViewMessage`); see PROTOCOL.md.
 */
import { ParamType } from './spec';

export type ComposerMessage =
  | { event: 'add'; group: string; name: string; script?: string }
  | { event: 'connect'; source: string; target: string }
  | { event: 'disconnect'; source: string; target: string }
  | { event: 'delete'; address: string }
  | { event: 'group'; addresses: string[]; name: string }
  | { event: 'set_param'; address: string; name: string; value: string; type?: ParamType }
  | { event: 'remove_param'; address: string; name: string }
  | { event: 'save' }
  | { event: 'export' };
