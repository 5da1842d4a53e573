/**
 * The composer's traits as the Python model sends them (`spec`, `positions`; see
 * widgets/PROTOCOL.md), read defensively: the canvas draws what it can from a partial
 * or odd value, never throws on it (widgets/spec.ts reads the tree).
 */
import { Tree, TreeNode, asRecord, readTree } from '../widgets/spec';

export { findNode, isGroup, walk } from '../widgets/spec';
export type { NodeKind } from '../widgets/spec';

/** Parameter types of `scanflow_jupyter.workflow.params`. */
export const PARAM_TYPES = ['str', 'int', 'float', 'bool', 'path'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];
export type ParamValue = string | number | boolean;

export interface ParamSpec {
  type: ParamType;
  default: ParamValue | null;
}

/** One node of the tree: the graph's fields, an executor's source and parameters, a service's model URI. */
export interface ComposerNode extends TreeNode<ComposerNode> {
  script: string | null;
  function: string | null;
  parameters: { [name: string]: ParamSpec };
  modelUri: string | null;
}

export type ComposerSpec = Tree<ComposerNode>;

export interface Point {
  x: number;
  y: number;
}

/** `positions` trait: address -> top-left corner, relative to the nested workflow holding it. */
export type Positions = { [address: string]: Point };

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

/** Read the `spec` trait; `null` when there is nothing to draw (the default `{}`). */
export function readComposerSpec(raw: unknown): ComposerSpec | null {
  return readTree<ComposerNode>(raw, (node, obj) => ({
    ...node,
    script: typeof obj.script === 'string' ? obj.script : null,
    function: typeof obj.function === 'string' ? obj.function : null,
    parameters: node.kind === 'executor' ? readParameters(obj.parameters) : {},
    modelUri: typeof obj.model_uri === 'string' ? obj.model_uri : null
  }));
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
