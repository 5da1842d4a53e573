/**
 * The composer: a toolbar, the @xyflow/react canvas and the inspector. The application
 * lives in Python: every edit here is a message (see messages.ts), and the canvas is
 * redrawn from what Python answers (`spec`, `revision`). Only the layout (node positions)
 * and the selection are changed here directly.
 */
import * as React from 'react';
import {
  Background,
  Controls,
  EdgeChange,
  NodeChange,
  OnBeforeDelete,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  useStoreApi
} from '@xyflow/react';

import { rollUp } from '../graph/dot';
import { layout } from './layout';
import { FlowEdge, FlowNode, NodeMarks, toEdges, toNodes } from './flow';
import { Inspector } from './inspector';
import { ComposerMessage, StepKind } from './messages';
import { NODE_TYPES } from './nodes';
import {
  ComposerNode,
  ComposerSpec,
  Positions,
  findNode,
  freeName,
  isGroup,
  isInside,
  outermost,
  parentAddress,
  problemsByNode,
  walk
} from './spec';

/** The model's traits, read (see widgets/composer.ts). */
export interface ComposerState {
  spec: ComposerSpec | null;
  positions: Positions;
  error: string;
  pythonCode: string;
  savedPath: string;
  message: string;
  revision: number;
  height: string;
  /** Validation problems to mark on the nodes (`where` a node address or a property of one). */
  problems?: { where: string; message: string }[];
  /** A run's state of each step, by address: the canvas colours the nodes (groups by roll-up). */
  states?: { [address: string]: string };
}

/** What the canvas asks of the widget. */
export interface ComposerActions {
  send(message: ComposerMessage): void;
  setPositions(positions: Positions): void;
  dismissError(): void;
  closeCode(): void;
}

export interface ComposerProps {
  state: ComposerState;
  actions: ComposerActions;
  /** More about the selected node, below its properties (the document editor shows its run and logs). */
  details?: (node: ComposerNode) => React.ReactNode;
}

// A small workflow is drawn larger than life rather than as three dots in an empty canvas.
export const FIT = { padding: 0.2, maxZoom: 1.5 };

/** The palette: the kinds of node that can be added (click, or drag onto the canvas). */
export const PALETTE: readonly { kind: StepKind; label: string; name: string; hint: string }[] = [
  { kind: 'script', label: 'Script step', name: 'step', hint: 'runs a Python script, steps/NAME.py (a stub is written on save)' },
  { kind: 'function', label: 'Function step', name: 'task', hint: 'calls a Python function, module:function' },
  { kind: 'workflow', label: 'Nested workflow', name: 'group', hint: 'a box of steps that runs as one node' }
];

/** The marks drawn on the nodes: problems by node, and run states with each group's rolled-up state. */
export function marksOf(spec: ComposerSpec | null, state: ComposerState): NodeMarks {
  const marks: NodeMarks = {};
  if (!spec) {
    return marks;
  }
  if (state.problems?.length) {
    marks.problems = problemsByNode(spec, state.problems);
  }
  if (state.states && Object.keys(state.states).length) {
    const states: { [address: string]: string } = { ...state.states };
    for (const node of walk(spec.root)) {
      if (isGroup(node)) {
        const leaves = [...walk(node)].filter(n => !isGroup(n)).map(n => n.address);
        states[node.address] = rollUp(state.states, leaves);
      }
    }
    marks.states = states;
  }
  return marks;
}

function Palette(props: {
  disabled: boolean;
  target: string;
  onAdd: (kind: StepKind) => void;
}): React.ReactElement {
  return (
    <div className="sf-composer-palette" role="toolbar" aria-label="palette of step kinds">
      <div className="sf-composer-section-title">Add</div>
      {PALETTE.map(item => (
        <button
          key={item.kind}
          type="button"
          draggable={!props.disabled}
          disabled={props.disabled}
          className={`sf-composer-palette-item sf-composer-palette-${item.kind}`}
          data-kind={item.kind}
          title={`${item.label}: ${item.hint}. Click to add it to ${props.target || 'the workflow'}, or drag it onto the canvas.`}
          onClick={() => props.onAdd(item.kind)}
          onDragStart={event => {
            event.dataTransfer.setData(DRAG_TYPE, item.kind);
            event.dataTransfer.effectAllowed = 'copy';
          }}
        >
          <span className={`sf-composer-palette-icon sf-composer-palette-icon-${item.kind}`} aria-hidden="true" />
          <span className="sf-composer-palette-text">
            <span className="sf-composer-palette-label">{item.label}</span>
            {/* What it is, on screen: a new user does not hover to learn what a "Function step" is. */}
            <span className="sf-composer-palette-hint">{item.hint}</span>
          </span>
        </button>
      ))}
      <div className="sf-composer-hint">
        Click to add, or drag onto the canvas. It takes the name typed in the name box above, else a free one.
      </div>
    </div>
  );
}

const DRAG_TYPE = 'application/x-scanflow-step-kind';

/** The messages that delete a selection: disconnect the selected edges, delete the outermost nodes. */
export function deletion(nodes: string[], edges: { source: string; target: string }[]): ComposerMessage[] {
  const addresses = outermost(nodes);
  const gone = (a: string): boolean => addresses.some(d => a === d || isInside(a, d));
  const messages: ComposerMessage[] = [];
  for (const edge of edges) {
    // Deleting a node removes the dependencies on it; only edges between kept nodes need a message.
    if (!gone(edge.source) && !gone(edge.target)) {
      messages.push({ event: 'disconnect', source: edge.source, target: edge.target });
    }
  }
  for (const address of addresses) {
    messages.push({ event: 'delete', address });
  }
  return messages;
}

/** Where "Add step" puts the new step: into the selected nested workflow, else beside the selected node. */
export function addTarget(selected: ComposerNode[]): string {
  if (selected.length !== 1) {
    return '';
  }
  const node = selected[0];
  return isGroup(node) ? node.address : parentAddress(node.address);
}

/** Keep what the canvas knows of nodes that are still there (selection, measured size). */
function carry(next: FlowNode[], previous: FlowNode[]): FlowNode[] {
  const before = new Map(previous.map(n => [n.id, n]));
  return next.map(node => {
    const old = before.get(node.id);
    if (!old) {
      return node;
    }
    return { ...node, selected: old.selected ?? false, ...(old.measured ? { measured: old.measured } : {}) };
  });
}

function Toolbar(props: {
  spec: ComposerSpec | null;
  name: string;
  setName: (name: string) => void;
  selected: ComposerNode[];
  selectedEdges: number;
  onAdd: () => void;
  onGroup: () => void;
  onDelete: () => void;
  onArrange: () => void;
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const { spec, name, selected } = props;
  const named = name.trim() !== '';
  const target = addTarget(selected);
  return (
    <div className="sf-composer-toolbar">
      <span className="sf-composer-title">{spec ? `${spec.app} / ${spec.workflow}` : ''}</span>
      <input
        type="text"
        className="sf-composer-name"
        placeholder="name"
        aria-label="name of the new step or nested workflow"
        value={name}
        onChange={event => props.setName(event.target.value)}
        onKeyDown={event => {
          if (event.key === 'Enter' && named) {
            props.onAdd();
          }
        }}
      />
      <button
        type="button"
        className="sf-composer-button sf-composer-add"
        disabled={!named || !spec}
        title={named ? `Add step ${name.trim()} to ${target || 'the workflow'}` : 'Type a name first'}
        onClick={props.onAdd}
      >
        Add step
      </button>
      <button
        type="button"
        className="sf-composer-button sf-composer-group"
        disabled={!named || selected.length === 0}
        title={
          selected.length === 0
            ? 'Select the nodes to group first'
            : named
              ? `Move the selected nodes into a nested workflow ${name.trim()}`
              : 'Type the name of the nested workflow first'
        }
        onClick={props.onGroup}
      >
        Group selected
      </button>
      <button
        type="button"
        className="sf-composer-button sf-composer-delete"
        disabled={selected.length === 0 && props.selectedEdges === 0}
        title="Delete the selected nodes and dependencies (Delete key)"
        onClick={props.onDelete}
      >
        Delete
      </button>
      <button
        type="button"
        className="sf-composer-button sf-composer-arrange"
        disabled={!spec}
        title="Lay every node out again, left to right by dependencies (forgets where nodes were moved)"
        onClick={props.onArrange}
      >
        Arrange
      </button>
      <span className="sf-composer-spacer" />
      <button
        type="button"
        className="sf-composer-button sf-composer-save"
        title="Write scanflow.yaml (and a stub script for each new step)"
        disabled={!spec}
        onClick={() => props.send({ event: 'save' })}
      >
        Save
      </button>
      <button
        type="button"
        className="sf-composer-button sf-composer-export"
        title="Show Python code that rebuilds the application"
        disabled={!spec}
        onClick={() => props.send({ event: 'export' })}
      >
        Export as Python
      </button>
    </div>
  );
}

function CodePanel(props: { code: string; onClose: () => void }): React.ReactElement {
  const [copied, setCopied] = React.useState(false);
  const copy = (): void => {
    const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
    clipboard?.writeText(props.code).then(
      () => setCopied(true),
      () => setCopied(false)
    );
  };
  return (
    <div className="sf-composer-code-panel">
      <div className="sf-composer-code-header">
        <span>Python that rebuilds the application</span>
        <button type="button" className="sf-composer-button sf-composer-copy" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button
          type="button"
          className="sf-composer-close sf-composer-code-close"
          aria-label="close the code"
          onClick={props.onClose}
        >
          ×
        </button>
      </div>
      <pre className="sf-composer-code">{props.code}</pre>
    </div>
  );
}

function Composer(props: ComposerProps): React.ReactElement {
  const { state, actions } = props;
  const { spec, positions, revision } = state;
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const store = useStoreApi<FlowNode, FlowEdge>();
  // Fit the view once the next redraw is drawn (after Arrange); check that everything is in sight (after any).
  const fitPending = React.useRef(false);
  const checkPending = React.useRef(false);
  const marks = React.useMemo(() => marksOf(spec, state), [spec, state.problems, state.states]);
  const [nodes, setNodes] = React.useState<FlowNode[]>(() =>
    spec ? toNodes(spec, positions, new Set(), layout(spec.root, positions), marks) : []
  );
  const [edges, setEdges] = React.useState<FlowEdge[]>(() => (spec ? toEdges(spec) : []));
  const [name, setName] = React.useState('');
  // The step or group sent to Python: once Python accepts it, the name field clears and it is selected.
  const pending = React.useRef<string | null>(null);

  // Redraw from Python's traits on each answer (`revision`): also when a refused edit left the spec as it was.
  React.useEffect(() => {
    const next = spec ? toNodes(spec, positions, new Set(), layout(spec.root, positions), marks) : [];
    checkPending.current = true;
    setNodes(previous => carry(next, previous));
    setEdges(previous => {
      const selected = new Set(previous.filter(e => e.selected).map(e => e.id));
      return spec ? toEdges(spec, selected) : [];
    });
  }, [spec, positions, revision, marks]);

  React.useEffect(() => {
    const address = pending.current;
    pending.current = null;
    if (address !== null && !state.error) {
      setName('');
      setNodes(current => current.map(n => ({ ...n, selected: n.id === address })));
    }
  }, [revision]);

  // Fit the drawing to the canvas after Arrange, and when a redraw put a node out of sight (the layout
  // moved it, or Python added it there); a view the user zoomed or panned is left alone otherwise.
  React.useEffect(() => {
    if (!fitPending.current && !checkPending.current) {
      return undefined;
    }
    const always = fitPending.current;
    fitPending.current = checkPending.current = false;
    // Not cancelled by the next change (a node being measured comes right after): the check must happen.
    requestAnimationFrame(() => {
      const { width, height } = store.getState();
      const shown = flow.getNodes();
      if (!shown.length || !width || !height) {
        return;
      }
      const box = flow.getNodesBounds(shown);
      const { x, y, zoom } = flow.getViewport();
      const inside =
        box.x * zoom + x >= 0 &&
        box.y * zoom + y >= 0 &&
        (box.x + box.width) * zoom + x <= width &&
        (box.y + box.height) * zoom + y <= height;
      if (always || !inside) {
        void flow.fitView(FIT);
      }
    });
    return undefined;
  }, [nodes]);

  const send = actions.send;
  // What is drawn and inspected is the spec of now: a node's data is looked up by address, so a redraw that lost
  // the race with a selection change (a document reverted, a text edit) never shows an older spec.
  const shown = React.useMemo(
    () =>
      nodes.map(n => {
        const fresh = spec ? findNode(spec, n.id) : null;
        return fresh && fresh !== n.data.node ? { ...n, data: { ...n.data, node: fresh } } : n;
      }),
    [nodes, spec]
  );
  const selectedNodes = shown.filter(n => n.selected).map(n => n.data.node);
  const selectedEdges = edges.filter(e => e.selected);

  const positionsRef = React.useRef(positions);
  positionsRef.current = positions;
  const onNodesChange = React.useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      // Removing (and adding) nodes is Python's business: see onBeforeDelete.
      const local = changes.filter(c => c.type === 'position' || c.type === 'select' || c.type === 'dimensions');
      if (local.length) {
        setNodes(current => applyNodeChanges(local, current));
      }
      // A node the user moved (dropped after a drag, or moved with the arrow keys) stays where it was put;
      // the others follow the layered layout as the graph changes.
      const moved: Positions = {};
      for (const change of changes) {
        if (change.type === 'position' && change.dragging === false && change.position) {
          moved[change.id] = { x: Math.round(change.position.x), y: Math.round(change.position.y) };
        }
      }
      if (Object.keys(moved).length) {
        actions.setPositions({ ...positionsRef.current, ...moved });
      }
    },
    [actions]
  );

  const onEdgesChange = React.useCallback((changes: EdgeChange<FlowEdge>[]) => {
    const local = changes.filter(c => c.type === 'select');
    if (local.length) {
      setEdges(current => applyEdgeChanges(local, current));
    }
  }, []);

  const onBeforeDelete: OnBeforeDelete<FlowNode, FlowEdge> = React.useCallback(
    async ({ nodes: doomed, edges: cut }) => {
      deletion(
        doomed.map(n => n.id),
        cut
      ).forEach(send);
      return false; // nothing leaves the canvas until Python says so
    },
    [send]
  );

  const onAdd = (): void => {
    const trimmed = name.trim();
    if (trimmed && spec) {
      const group = addTarget(selectedNodes);
      pending.current = group ? `${group}/${trimmed}` : trimmed;
      send({ event: 'add', group, name: trimmed });
    }
  };
  /** Add a node of `kind` from the palette: named as typed, else a free name; `at` is where it was dropped. */
  const onPalette = (kind: StepKind, at?: { x: number; y: number }): void => {
    if (!spec) {
      return;
    }
    const group = at ? '' : addTarget(selectedNodes);
    const holder = findNode(spec, group);
    const base = PALETTE.find(p => p.kind === kind)?.name ?? 'step';
    const chosen = name.trim() || freeName(base, (holder?.nodes ?? []).map(n => n.name));
    const address = group ? `${group}/${chosen}` : chosen;
    pending.current = address;
    send({ event: 'add', group, name: chosen, kind });
    if (at) {
      actions.setPositions({ ...positionsRef.current, [address]: { x: Math.round(at.x), y: Math.round(at.y) } });
    }
  };
  const onDrop = (event: React.DragEvent): void => {
    const kind = event.dataTransfer.getData(DRAG_TYPE) as StepKind;
    if (PALETTE.some(p => p.kind === kind)) {
      event.preventDefault();
      onPalette(kind, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
    }
  };
  const onGroup = (): void => {
    const trimmed = name.trim();
    if (trimmed && selectedNodes.length) {
      const addresses = outermost(selectedNodes.map(n => n.address));
      const parent = parentAddress(addresses[0]);
      pending.current = parent ? `${parent}/${trimmed}` : trimmed;
      send({ event: 'group', addresses, name: trimmed });
    }
  };
  const onDelete = (): void => {
    deletion(
      selectedNodes.map(n => n.address),
      selectedEdges
    ).forEach(send);
  };

  const onArrange = (): void => {
    if (Object.keys(positions).length === 0) {
      void flow.fitView(FIT); // laid out already: nothing will redraw
      return;
    }
    fitPending.current = true; // fit once the new layout is drawn
    actions.setPositions({});
  };

  const single = selectedNodes.length === 1 ? selectedNodes[0] : null;
  const holder = single && spec ? findNode(spec, parentAddress(single.address)) : null;

  return (
    <>
      <Toolbar
        spec={spec}
        name={name}
        setName={setName}
        selected={selectedNodes}
        selectedEdges={selectedEdges.length}
        onAdd={onAdd}
        onGroup={onGroup}
        onDelete={onDelete}
        onArrange={onArrange}
        send={send}
      />
      {state.error ? (
        <div className="sf-composer-error" role="alert">
          <span className="sf-composer-error-text">{state.error}</span>
          <button
            type="button"
            className="sf-composer-close sf-composer-error-close"
            aria-label="dismiss the message"
            onClick={actions.dismissError}
          >
            ×
          </button>
        </div>
      ) : null}
      {state.message ? (
        <div className="sf-composer-status" role="status">
          {state.message}
        </div>
      ) : null}
      <div className="sf-composer-body">
        <Palette disabled={!spec} target={addTarget(selectedNodes)} onAdd={kind => onPalette(kind)} />
        <div
          className="sf-composer-canvas"
          style={{ height: state.height || '480px' }}
          onDragOver={event => {
            if (event.dataTransfer.types.includes(DRAG_TYPE)) {
              event.preventDefault();
              event.dataTransfer.dropEffect = 'copy';
            }
          }}
          onDrop={onDrop}
        >
          {spec ? (
            <ReactFlow<FlowNode, FlowEdge>
              nodes={shown}
              edges={edges}
              nodeTypes={NODE_TYPES}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={connection => send({ event: 'connect', source: connection.source, target: connection.target })}
              onBeforeDelete={onBeforeDelete}
              deleteKeyCode={['Delete', 'Backspace']}
              multiSelectionKeyCode={['Shift', 'Meta', 'Control']}
              fitView
              fitViewOptions={FIT}
              minZoom={0.2}
              maxZoom={2}
              // The notebook scrolls on the wheel; zoom with the buttons or a pinch.
              zoomOnScroll={false}
              preventScrolling={false}
            >
              <Background gap={16} size={1} />
              <Controls showInteractive={false} position="bottom-left" />
            </ReactFlow>
          ) : (
            <div className="sf-composer-note">No workflow to compose.</div>
          )}
        </div>
        <Inspector
          problems={marks.problems ?? {}}
          selected={selectedNodes}
          siblings={holder ? holder.nodes : []}
          revision={revision}
          send={send}
          details={props.details}
        />
      </div>
      {state.pythonCode ? <CodePanel code={state.pythonCode} onClose={actions.closeCode} /> : null}
    </>
  );
}

/** The whole composer; @xyflow/react's store lives in the provider. */
export function ComposerApp(props: ComposerProps): React.ReactElement {
  return (
    <ReactFlowProvider>
      <Composer {...props} />
    </ReactFlowProvider>
  );
}
