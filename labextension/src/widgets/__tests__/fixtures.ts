/**
 * Builders of workflow trees in the wire format of PROTOCOL.md (the `spec` trait that
 * `scanflow_jupyter/notebook/widgets/spec.py` makes), shared by the graph's and the composer's fixtures.
 */

export interface RawNode {
  kind: 'executor' | 'service' | 'workflow';
  name: string;
  address: string;
  depends_on: string[];
  nodes?: RawNode[];
  /** A widget's own fields (the composer's `script`, `parameters`...). */
  [field: string]: unknown;
}

export interface RawSpec {
  app: string;
  workflow: string;
  root: RawNode;
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name;
}

/** A step `name` inside the group at `prefix` ("" is the top level), with a widget's own `fields`. */
export function rawStep(
  prefix: string,
  name: string,
  dependsOn: string[] = [],
  fields: { [field: string]: unknown } = {},
  kind: 'executor' | 'service' = 'executor'
): RawNode {
  return { kind, name, address: join(prefix, name), depends_on: dependsOn, ...fields };
}

/** A nested workflow `name` inside the group at `prefix`; `build` makes its nodes from its address. */
export function rawGroup(
  prefix: string,
  name: string,
  dependsOn: string[],
  build: (address: string) => RawNode[]
): RawNode {
  const address = join(prefix, name);
  return { kind: 'workflow', name, address, depends_on: dependsOn, nodes: build(address) };
}

/** The `spec` of workflow `workflow` of application `app`, whose top-level nodes are `nodes`. */
export function rawSpec(app: string, workflow: string, nodes: RawNode[]): RawSpec {
  return { app, workflow, root: { kind: 'workflow', name: workflow, address: '', depends_on: [], nodes } };
}
