/**
 * The composer's traits as the Python model sends them (`spec`, `positions`; see
 * widgets/PROTOCOL.md), read defensively: the canvas draws what it can from a partial
 * or odd value, never throws on it.
 */

export type NodeKind = 'executor' | 'service' | 'workflow';

/** Parameter types of `scanflow_jupyter.workflow.params`. */
export const PARAM_TYPES = ['str', 'int', 'float', 'bool', 'path'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];
export type ParamValue = string | number | boolean;

export interface ParamSpec {
  type: ParamType;
  default: ParamValue | null;
}

/** One node of the tree; `nodes` is empty for a step. */
export interface ComposerNode {
  kind: NodeKind;
  name: string;
  /** `inner/step`, relative to the workflow composed ("" is the workflow itself). */
  address: string;
  /** Names of siblings this node runs after. */
  dependsOn: string[];
  nodes: ComposerNode[];
  script: string | null;
  function: string | null;
  parameters: { [name: string]: ParamSpec };
  modelUri: string | null;
}

export interface ComposerSpec {
  app: string;
  workflow: string;
  root: ComposerNode;
}

export interface Point {
  x: number;
  y: number;
}

/** `positions` trait: address -> top-left corner, relative to the nested workflow holding it. */
export type Positions = { [address: string]: Point };

function asRecord(value: unknown): { [key: string]: unknown } | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as { [key: string]: unknown })
    : null;
}

function asString(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

export function toParamType(value: unknown): ParamType {
  return typeof value === 'string' && (PARAM_TYPES as readonly string[]).includes(value)
    ? (value as ParamType)
    : 'str';
}

function readParameters(raw: unknown): { [name: string]: ParamSpec } {
  const out: { [name: string]: ParamSpec } = {};
  const obj = asRecord(raw);
  if (!obj) {
    return out;
  }
  for (const [name, value] of Object.entries(obj)) {
    const param = asRecord(value);
    const given = param ? param.default : value;
    const fallback: ParamValue | null =
      typeof given === 'string' || typeof given === 'number' || typeof given === 'boolean'
        ? given
        : null;
    out[name] = { type: toParamType(param ? param.type : undefined), default: fallback };
  }
  return out;
}

function readNode(raw: unknown, prefix: string, index: number): ComposerNode | null {
  const obj = asRecord(raw);
  if (!obj) {
    return null;
  }
  const name = asString(obj.name, `node${index}`);
  const kind: NodeKind = obj.kind === 'workflow' || obj.kind === 'service' ? obj.kind : 'executor';
  const address = asString(obj.address, prefix ? `${prefix}/${name}` : name);
  const dependsOn = Array.isArray(obj.depends_on)
    ? obj.depends_on.filter((d): d is string => typeof d === 'string')
    : [];
  const nodes: ComposerNode[] = [];
  if (kind === 'workflow' && Array.isArray(obj.nodes)) {
    obj.nodes.forEach((child, i) => {
      const node = readNode(child, address, i);
      if (node) {
        nodes.push(node);
      }
    });
  }
  return {
    kind,
    name,
    address,
    dependsOn,
    nodes,
    script: typeof obj.script === 'string' ? obj.script : null,
    function: typeof obj.function === 'string' ? obj.function : null,
    parameters: kind === 'executor' ? readParameters(obj.parameters) : {},
    modelUri: typeof obj.model_uri === 'string' ? obj.model_uri : null
  };
}

/** Read the `spec` trait; `null` when there is nothing to draw (the default `{}`). */
export function readComposerSpec(raw: unknown): ComposerSpec | null {
  const obj = asRecord(raw);
  const rootObj = obj ? asRecord(obj.root) : null;
  if (!obj || !rootObj) {
    return null;
  }
  const root = readNode({ ...rootObj, kind: 'workflow', address: '' }, '', 0);
  if (!root) {
    return null;
  }
  return { app: asString(obj.app, ''), workflow: asString(obj.workflow, root.name), root };
}

/** Read the `positions` trait, keeping only `{x: number, y: number}` entries. */
export function readPositions(raw: unknown): Positions {
  const out: Positions = {};
  const obj = asRecord(raw);
  if (!obj) {
    return out;
  }
  for (const [address, value] of Object.entries(obj)) {
    const point = asRecord(value);
    if (point && Number.isFinite(point.x) && Number.isFinite(point.y)) {
      out[address] = { x: point.x as number, y: point.y as number };
    }
  }
  return out;
}

export function isGroup(node: ComposerNode): boolean {
  return node.kind === 'workflow';
}

/** Depth-first walk of every node under `node` (not `node` itself), parents before children. */
export function* walk(node: ComposerNode): Generator<ComposerNode> {
  for (const child of node.nodes) {
    yield child;
    if (isGroup(child)) {
      yield* walk(child);
    }
  }
}

/** The node at `address` ("" is the root), or null. */
export function findNode(spec: ComposerSpec, address: string): ComposerNode | null {
  if (address === '') {
    return spec.root;
  }
  for (const node of walk(spec.root)) {
    if (node.address === address) {
      return node;
    }
  }
  return null;
}

/** The address of the nested workflow holding `address` ("" for a top-level node). */
export function parentAddress(address: string): string {
  const cut = address.lastIndexOf('/');
  return cut < 0 ? '' : address.slice(0, cut);
}

/** The address of sibling `name` of the node at `address`. */
export function siblingAddress(address: string, name: string): string {
  const parent = parentAddress(address);
  return parent ? `${parent}/${name}` : name;
}

/** Whether `address` is inside the nested workflow at `group` (at any depth). */
export function isInside(address: string, group: string): boolean {
  return group === '' ? address !== '' : address.startsWith(`${group}/`);
}

/**
 * The addresses to delete for a selection: nodes inside another selected group go with it,
 * so they are left out (deleting them first would make the group's deletion fail).
 */
export function outermost(addresses: string[]): string[] {
  const unique = [...new Set(addresses)];
  return unique.filter(a => !unique.some(other => other !== a && isInside(a, other)));
}

/** Text of a parameter value for an input field. */
export function valueText(value: ParamValue | null): string {
  if (value === null) {
    return '';
  }
  return typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);
}
