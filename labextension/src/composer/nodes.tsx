/**
 * How the composer draws its nodes: a step (executor), a service, and a nested workflow
 * (a box holding its nodes). Every one has an input handle on the left (what it runs
 * after connects there) and an output handle on the right. All user text is rendered as
 * text; React escapes it.
 */
import * as React from 'react';
import { Handle, NodeProps, NodeTypes, Position } from '@xyflow/react';

import { STATE_COLOURS } from '../graph/dot';
import { State, isState } from '../graph/spec';
import { FlowNode, FlowNodeData, GROUP_TYPE, SERVICE_TYPE, STEP_TYPE } from './flow';

function Handles(): React.ReactElement {
  return (
    <>
      <Handle type="target" position={Position.Left} className="sf-composer-handle sf-composer-in" />
      <Handle type="source" position={Position.Right} className="sf-composer-handle sf-composer-out" />
    </>
  );
}

/** The class names and style of a node's box for its marks: a run's state colours it, problems outline it red. */
function marked(base: string, data: FlowNodeData): { className: string; style: React.CSSProperties } {
  const classes = [base];
  const style: React.CSSProperties = {};
  if (data.state && isState(data.state)) {
    classes.push(`sf-composer-state-${data.state}`);
    style.background = STATE_COLOURS[data.state as State];
  }
  if (data.problems?.length) {
    classes.push('sf-composer-invalid');
  }
  return { className: classes.join(' '), style };
}

/** The node's run state and problem count, as small badges (the problems' text is in the tooltip). */
function Marks({ data }: { data: FlowNodeData }): React.ReactElement | null {
  const problems = data.problems ?? [];
  if (!data.state && problems.length === 0) {
    return null;
  }
  return (
    <div className="sf-composer-marks">
      {data.state ? <span className="sf-composer-state-label">{data.state}</span> : null}
      {problems.length ? (
        <span className="sf-composer-problem-badge" title={problems.join('\n')}>
          {`⚠ ${problems.length} problem${problems.length === 1 ? '' : 's'}`}
        </span>
      ) : null}
    </div>
  );
}

function tooltip(lines: (string | null | undefined)[], data: FlowNodeData): string {
  return [...lines, data.state ? `state: ${data.state}` : null, ...(data.problems ?? [])]
    .filter((l): l is string => !!l)
    .join('\n');
}

function countLabel(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function StepNode({ data }: NodeProps<FlowNode>): React.ReactElement {
  const { node } = data;
  const source = node.script ?? node.function ?? '(no source)';
  const params = Object.keys(node.parameters).length;
  const { className, style } = marked('sf-composer-step', data);
  return (
    <div className={className} style={style} title={tooltip([node.address, source], data)} data-address={node.address}>
      <Handles />
      <Marks data={data} />
      <div className="sf-composer-node-name">{node.name}</div>
      <div className="sf-composer-node-detail">
        <span className="sf-composer-node-source">{source}</span>
        {params > 0 ? (
          <span className="sf-composer-node-params">{countLabel(params, 'param', 'params')}</span>
        ) : null}
      </div>
    </div>
  );
}

export function ServiceNode({ data }: NodeProps<FlowNode>): React.ReactElement {
  const { node } = data;
  const { className, style } = marked('sf-composer-step sf-composer-service', data);
  return (
    <div className={className} style={style} title={tooltip([node.address, node.modelUri], data)} data-address={node.address}>
      <Handles />
      <Marks data={data} />
      <div className="sf-composer-node-name">{node.name}</div>
      <div className="sf-composer-node-detail">
        <span className="sf-composer-node-source">service · {node.modelUri ?? ''}</span>
      </div>
    </div>
  );
}

export function GroupNode({ data }: NodeProps<FlowNode>): React.ReactElement {
  const { node } = data;
  const { className } = marked('sf-composer-group-node', data);
  return (
    <div className={className} title={tooltip([node.address], data)} data-address={node.address}>
      <Handles />
      <Marks data={data} />
      <div className="sf-composer-group-title">
        <span className="sf-composer-node-name">{node.name}</span>
        <span className="sf-composer-node-detail">
          {node.nodes.length ? countLabel(node.nodes.length, 'node', 'nodes') : 'empty'}
        </span>
      </div>
    </div>
  );
}

/** Registered once: @xyflow/react warns when `nodeTypes` changes between renders. */
export const NODE_TYPES: NodeTypes = {
  [STEP_TYPE]: StepNode,
  [SERVICE_TYPE]: ServiceNode,
  [GROUP_TYPE]: GroupNode
};
