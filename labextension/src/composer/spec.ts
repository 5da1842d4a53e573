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

/** What a step asks for on Docker or Kubernetes. */
export interface ResourcesSpec {
  cpu: string | number | null;
  memory: string | null;
  gpu: number;
}

/**
 * One node of the tree: the graph's fields, an executor's source, parameters and properties (requirements,
 * retries, timeout, resources), a service's model URI.
 */
export interface ComposerNode extends TreeNode<ComposerNode> {
  script: string | null;
  function: string | null;
  parameters: { [name: string]: ParamSpec };
  modelUri: string | null;
  /** A requirements file, a list of packages, or null. */
  requirements: string | string[] | null;
  retries: number;
  timeout: number | null;
  resources: ResourcesSpec;
}

/** The node properties the inspector edits with `set_field` (scanflow_jupyter.workflow.edit.FIELDS). */
export const FIELDS = [
  'script',
  'function',
  'requirements',
  'retries',
  'timeout',
  'resources.cpu',
  'resources.memory',
  'resources.gpu'
] as const;
export type Field = (typeof FIELDS)[number];

/** The text of a property for an input field ("" when unset). */
export function fieldText(node: ComposerNode, field: Field): string {
  const text = (value: unknown): string =>
    value === null || value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
  switch (field) {
    case 'script':
      return text(node.script);
    case 'function':
      return text(node.function);
    case 'requirements':
      return text(node.requirements);
    case 'retries':
      return String(node.retries);
    case 'timeout':
      return text(node.timeout);
    case 'resources.cpu':
      return text(node.resources.cpu);
    case 'resources.memory':
      return text(node.resources.memory);
    case 'resources.gpu':
      return String(node.resources.gpu);
  }
}

function readResources(raw: unknown): ResourcesSpec {
  const obj = asRecord(raw);
  const cpu = obj?.cpu;
  return {
    cpu: typeof cpu === 'string' || typeof cpu === 'number' ? cpu : null,
    memory: typeof obj?.memory === 'string' ? obj.memory : null,
    gpu: typeof obj?.gpu === 'number' ? obj.gpu : 0
  };
}

function readRequirements(raw: unknown): string | string[] | null {
  if (typeof raw === 'string') {
    return raw;
  }
  return Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : null;
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
    modelUri: typeof obj.model_uri === 'string' ? obj.model_uri : null,
    requirements: readRequirements(obj.requirements),
    retries: typeof obj.retries === 'number' ? obj.retries : 0,
    timeout: typeof obj.timeout === 'number' ? obj.timeout : null,
    resources: readResources(obj.resources)
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

/**
 * The siblings `node` may be made to run after without closing a cycle: not itself, not one it already runs
 * after, and not one that already runs after it (directly or through others).
 */
export function dependencyChoices(node: ComposerNode, siblings: ComposerNode[]): ComposerNode[] {
  const byName = new Map(siblings.map(s => [s.name, s]));
  const downstream = new Set<string>();
  const stack = [node.name];
  while (stack.length) {
    const current = stack.pop() as string;
    for (const s of siblings) {
      if (s.dependsOn.includes(current) && !downstream.has(s.name)) {
        downstream.add(s.name);
        stack.push(s.name);
      }
    }
  }
  return siblings.filter(
    s => s.name !== node.name && !node.dependsOn.includes(s.name) && !downstream.has(s.name) && byName.has(s.name)
  );
}

/** A name `base`, `base2`, `base3`... not yet taken among `taken`. */
export function freeName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) {
    return base;
  }
  let i = 2;
  while (used.has(`${base}${i}`)) {
    i += 1;
  }
  return `${base}${i}`;
}

/**
 * The problems of each node, by address: a problem's `where` names a node address (`modeling/linear`), a
 * property of one (`train.retries`, `train.parameters.epochs`), or the application (left out: shown above the
 * canvas). The longest address that `where` starts with wins.
 */
export function problemsByNode(
  spec: ComposerSpec | null,
  problems: { where: string; message: string }[]
): { [address: string]: string[] } {
  const out: { [address: string]: string[] } = {};
  if (!spec) {
    return out;
  }
  const addresses = [...walkAll(spec.root)].map(n => n.address).sort((a, b) => b.length - a.length);
  for (const problem of problems) {
    const where = problem.where;
    const hit = addresses.find(a => where === a || where.startsWith(`${a}.`) || where.startsWith(`${a}/`));
    if (hit !== undefined) {
      (out[hit] = out[hit] ?? []).push(problem.message);
    }
  }
  return out;
}

/** The problems no node of `spec` holds (the application's own: a tracker setting, a duplicate workflow...). */
export function unplacedProblems<P extends { where: string; message: string }>(spec: ComposerSpec | null, problems: P[]): P[] {
  if (!spec) {
    return problems;
  }
  return problems.filter(p => Object.keys(problemsByNode(spec, [p])).length === 0);
}

function* walkAll(node: ComposerNode): Generator<ComposerNode> {
  for (const child of node.nodes) {
    yield child;
    yield* walkAll(child);
  }
}
