/** Workflow trees in the wire format of PROTOCOL.md (`spec` trait), for tests. */
import { RawNode, RawSpec, rawGroup, rawSpec, rawStep } from '../../widgets/__tests__/fixtures';

export type { RawNode, RawSpec };

/** The example of PROTOCOL.md. */
export function protocolExample(): RawSpec {
  return rawSpec('tabular', 'pipeline', [
    step('', 'gather'),
    group('', 'modeling', ['gather'], m => [step(m, 'linear')]),
    step('', 'serve', ['modeling'], 'service')
  ]);
}

function step(prefix: string, name: string, depends_on: string[] = [], kind: 'executor' | 'service' = 'executor'): RawNode {
  return rawStep(prefix, name, depends_on, {}, kind);
}

const group = rawGroup;

/**
 * Three levels of nesting:
 * prep -> outer{ a -> mid{ b -> inner{ c -> d } } } -> serve
 */
export function threeLevels(): RawSpec {
  return rawSpec('deep', 'main', [
    step('', 'prep'),
    group('', 'outer', ['prep'], o => [
      step(o, 'a'),
      group(o, 'mid', ['a'], m => [
        step(m, 'b'),
        group(m, 'inner', ['b'], i => [step(i, 'c'), step(i, 'd', ['c'])])
      ])
    ]),
    step('', 'serve', ['outer'], 'service')
  ]);
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
  return rawSpec('big', 'big', nodes);
}

/** The addresses of every step of a raw spec. */
export function stepAddresses(node: RawNode): string[] {
  return (node.nodes ?? []).flatMap(n => (n.kind === 'workflow' ? stepAddresses(n) : [n.address]));
}
