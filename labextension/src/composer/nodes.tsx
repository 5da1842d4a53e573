/**
 * How the composer draws its nodes: a step (executor), a service, and a nested workflow
 * (a box holding its nodes). Every one has an input handle on the left (what it runs
 * after connects there) and an output handle on the right. All user text is rendered as
 * text; React escapes it.
 */
import * as React from 'react';
import { Handle, NodeProps, NodeTypes, Position } from '@xyflow/react';

import { FlowNode, GROUP_TYPE, SERVICE_TYPE, STEP_TYPE } from './flow';

function Handles(): React.ReactElement {
  return (
    <>
      <Handle type="target" position={Position.Left} className="sf-composer-handle sf-composer-in" />
      <Handle type="source" position={Position.Right} className="sf-composer-handle sf-composer-out" />
    </>
  );
}

function countLabel(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function StepNode({ data }: NodeProps<FlowNode>): React.ReactElement {
  const { node } = data;
  const source = node.script ?? node.function ?? '(no source)';
  const params = Object.keys(node.parameters).length;
  return (
    <div className="sf-composer-step" title={`${node.address}\n${source}`}>
      <Handles />
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
  return (
    <div className="sf-composer-step sf-composer-service" title={`${node.address}\n${node.modelUri ?? ''}`}>
      <Handles />
      <div className="sf-composer-node-name">{node.name}</div>
      <div className="sf-composer-node-detail">
        <span className="sf-composer-node-source">service · {node.modelUri ?? ''}</span>
      </div>
    </div>
  );
}

export function GroupNode({ data }: NodeProps<FlowNode>): React.ReactElement {
  const { node } = data;
  return (
    <div className="sf-composer-group-node" title={node.address}>
      <Handles />
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
