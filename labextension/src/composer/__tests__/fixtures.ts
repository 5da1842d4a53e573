/**
 * Composer specs as the Python model sends them (`composer_spec` in
 * scanflow_jupyter/notebook/widgets/composer.py).
 */
function step(name: string, prefix: string, after: string[] = [], parameters = {}): object {
  return {
    kind: 'executor',
    name,
    address: prefix ? `${prefix}/${name}` : name,
    depends_on: after,
    script: `steps/${name}.py`,
    function: null,
    parameters
  };
}

/** gather -> modeling {linear, forest} -> evaluate, as in examples/tabular. */
export function tabular(): { [key: string]: unknown } {
  return {
    app: 'tabular',
    workflow: 'pipeline',
    root: {
      kind: 'workflow',
      name: 'pipeline',
      address: '',
      depends_on: [],
      nodes: [
        step('gather', '', [], { rows: { type: 'int', default: 0 } }),
        step('preprocess', '', ['gather'], {
          'test-size': { type: 'float', default: 0.25 },
          shuffle: { type: 'bool', default: true }
        }),
        {
          kind: 'workflow',
          name: 'modeling',
          address: 'modeling',
          depends_on: ['preprocess'],
          nodes: [step('linear', 'modeling'), step('forest', 'modeling')]
        },
        step('evaluate', '', ['modeling'])
      ]
    }
  };
}
