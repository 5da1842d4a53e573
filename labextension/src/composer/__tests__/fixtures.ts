/**
 * Composer specs as the Python model sends them (`composer_spec` in
 * scanflow_jupyter/notebook/widgets/composer.py).
 */
import { RawNode, RawSpec, rawGroup, rawSpec, rawStep } from '../../widgets/__tests__/fixtures';

function step(name: string, prefix: string, after: string[] = [], parameters = {}): RawNode {
  return rawStep(prefix, name, after, { script: `steps/${name}.py`, function: null, parameters });
}

/** gather -> modeling {linear, forest} -> evaluate, as in examples/tabular. */
export function tabular(): RawSpec {
  return rawSpec('tabular', 'pipeline', [
    step('gather', '', [], { rows: { type: 'int', default: 0 } }),
    step('preprocess', '', ['gather'], {
      'test-size': { type: 'float', default: 0.25 },
      shuffle: { type: 'bool', default: true }
    }),
    rawGroup('', 'modeling', ['preprocess'], m => [step('linear', m), step('forest', m)]),
    step('evaluate', '', ['modeling'])
  ]);
}
