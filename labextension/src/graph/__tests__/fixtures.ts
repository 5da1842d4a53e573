/** Workflow trees in the wire format of PROTOCOL.md (`spec` trait), for tests. */

export interface RawNode {
  kind: 'executor' | 'service' | 'workflow';
  name: string;
  address: string;
  depends_on: string[];
  nodes?: RawNode[];
}

export interface RawSpec {
  app: string;
  workflow: string;
  root: RawNode;
}

/** The example of PROTOCOL.md. */
export function protocolExample(): RawSpec {
  return {
    app: 'tabular',
    workflow: 'pipeline',
    root: {
      kind: 'workflow',
      name: 'pipeline',
      address: '',
      depends_on: [],
      nodes: [
        { kind: 'executor', name: 'gather', address: 'gather', depends_on: [] },
        {
          kind: 'workflow',
          name: 'modeling',
          address: 'modeling',
          depends_on: ['gather'],
          nodes: [{ kind: 'executor', name: 'linear', address: 'modeling/linear', depends_on: [] }]
        },
        { kind: 'service', name: 'serve', address: 'serve', depends_on: ['modeling'] }
      ]
    }
  };
}

function step(prefix: string, name: string, depends_on: string[] = [], kind: 'executor' | 'service' = 'executor'): RawNode {
  return { kind, name, address: prefix ? `${prefix}/${name}` : name, depends_on };
}

function group(prefix: string, name: string, depends_on: string[], build: (address: string) => RawNode[]): RawNode {
  const address = prefix ? `${prefix}/${name}` : name;
  return { kind: 'workflow', name, address, depends_on, nodes: build(address) };
}

/**
 * Three levels of nesting:
 * prep -> outer{ a -> mid{ b -> inner{ c -> d } } } -> serve
 */
export function threeLevels(): RawSpec {
  return {
    app: 'deep',
    workflow: 'main',
    root: {
      kind: 'workflow',
      name: 'main',
      address: '',
      depends_on: [],
      nodes: [
        step('', 'prep'),
        group('', 'outer', ['prep'], o => [
          step(o, 'a'),
          group(o, 'mid', ['a'], m => [
            step(m, 'b'),
            group(m, 'inner', ['b'], i => [step(i, 'c'), step(i, 'd', ['c'])])
          ])
        ]),
        step('', 'serve', ['outer'], 'service')
      ]
    }
  };
}

/**
 * A nested application of about `size` steps: `groups` top-level groups in a chain,
 * each with a sub-group, each level a fan-out/fan-in of steps.
 */
export function bigNested(size = 200, groups = 5): RawSpec {
  const perGroup = Math.floor(size / groups);
  const nodes: RawNode[] = [];
  for (let g = 0; g < groups; g++) {
    const deps = g === 0 ? [] : [`stage${g - 1}`];
    nodes.push(
      group('', `stage${g}`, deps, stage => {
        const half = Math.floor(perGroup / 2);
        const inner: RawNode[] = [step(stage, 'start')];
        for (let i = 0; i < half - 2; i++) {
          inner.push(step(stage, `task${i}`, ['start']));
        }
        inner.push(step(stage, 'join', inner.slice(1).map(n => n.name)));
        inner.push(
          group(stage, 'train', ['join'], t => {
            const steps: RawNode[] = [step(t, 'split')];
            for (let i = 0; i < perGroup - half - 2; i++) {
              steps.push(step(t, `fit${i}`, ['split']));
            }
            steps.push(step(t, 'pick', steps.slice(1).map(n => n.name)));
            return steps;
          })
        );
        return inner;
      })
    );
  }
  return { app: 'big', workflow: 'big', root: { kind: 'workflow', name: 'big', address: '', depends_on: [], nodes } };
}

/** The addresses of every step of a raw spec. */
export function stepAddresses(node: RawNode): string[] {
  return (node.nodes ?? []).flatMap(n => (n.kind === 'workflow' ? stepAddresses(n) : [n.address]));
}
