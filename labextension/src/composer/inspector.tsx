/**
 * The inspector: what the selected node is, its parameters (edit, retype, add, remove)
 * and its dependencies (add one on a sibling, remove one). Each change is a message to
 * Python; nothing changes here until Python answers with a new spec, so a refused edit
 * leaves the fields as they were (drafts are reset on every answer: see `revision`).
 */
import * as React from 'react';

import { ComposerMessage } from './messages';
import {
  ComposerNode,
  PARAM_TYPES,
  ParamSpec,
  ParamType,
  isGroup,
  siblingAddress,
  toParamType,
  valueText
} from './spec';

export interface InspectorProps {
  /** The selected nodes (the inspector edits one; it explains what to do with several). */
  selected: ComposerNode[];
  /** The siblings of the selected node (what it may depend on). */
  siblings: ComposerNode[];
  /** Python's answer count: drafts of parameter values reset to the spec on each answer. */
  revision: number;
  send: (message: ComposerMessage) => void;
}

function TypeSelect(props: {
  value: ParamType;
  className: string;
  label: string;
  onChange: (value: ParamType) => void;
}): React.ReactElement {
  return (
    <select
      className={props.className}
      aria-label={props.label}
      value={props.value}
      onChange={event => props.onChange(toParamType(event.target.value))}
    >
      {PARAM_TYPES.map(t => (
        <option key={t} value={t}>
          {t}
        </option>
      ))}
    </select>
  );
}

function ParamRow(props: {
  address: string;
  name: string;
  param: ParamSpec;
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const { address, name, param, send } = props;
  const current = valueText(param.default);
  const [draft, setDraft] = React.useState(current);
  const commit = (value: string, type: ParamType = param.type): void => {
    if (value !== current || type !== param.type) {
      send({ event: 'set_param', address, name, value, type });
    }
  };
  return (
    <tr className="sf-composer-param" data-name={name}>
      <td className="sf-composer-param-name">{name}</td>
      <td>
        <TypeSelect
          className="sf-composer-param-type"
          label={`type of ${name}`}
          value={param.type}
          onChange={type => commit(draft, type)}
        />
      </td>
      <td>
        {param.type === 'bool' ? (
          <input
            type="checkbox"
            className="sf-composer-param-value"
            aria-label={`value of ${name}`}
            checked={param.default === true}
            onChange={event => commit(event.target.checked ? 'true' : 'false')}
          />
        ) : (
          <input
            type="text"
            className="sf-composer-param-value"
            aria-label={`value of ${name}`}
            value={draft}
            onChange={event => setDraft(event.target.value)}
            onBlur={() => commit(draft)}
            onKeyDown={event => {
              if (event.key === 'Enter') {
                commit(draft);
              } else if (event.key === 'Escape') {
                setDraft(current);
              }
            }}
          />
        )}
      </td>
      <td>
        <button
          type="button"
          className="sf-composer-param-remove"
          title={`Remove parameter ${name}`}
          aria-label={`remove parameter ${name}`}
          onClick={() => send({ event: 'remove_param', address, name })}
        >
          ×
        </button>
      </td>
    </tr>
  );
}

function NewParam(props: {
  address: string;
  existing: string[];
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const [name, setName] = React.useState('');
  const [type, setType] = React.useState<ParamType>('str');
  const [value, setValue] = React.useState('');
  // The name sent last: once Python's spec has it, the fields clear; a refused one stays to be fixed.
  const [pending, setPending] = React.useState<string | null>(null);
  const done = pending !== null && props.existing.includes(pending);
  React.useEffect(() => {
    if (done) {
      setName('');
      setValue('');
      setPending(null);
    }
  }, [done]);
  const add = (): void => {
    const trimmed = name.trim();
    if (trimmed) {
      setPending(trimmed);
      props.send({ event: 'set_param', address: props.address, name: trimmed, value, type });
    }
  };
  return (
    <tr className="sf-composer-param-new">
      <td>
        <input
          type="text"
          className="sf-composer-param-new-name"
          placeholder="name"
          aria-label="new parameter name"
          value={name}
          onChange={event => setName(event.target.value)}
          onKeyDown={event => event.key === 'Enter' && add()}
        />
      </td>
      <td>
        <TypeSelect className="sf-composer-param-new-type" label="new parameter type" value={type} onChange={setType} />
      </td>
      <td>
        <input
          type="text"
          className="sf-composer-param-new-value"
          placeholder={type === 'bool' ? 'true / false' : 'default'}
          aria-label="new parameter value"
          value={value}
          onChange={event => setValue(event.target.value)}
          onKeyDown={event => event.key === 'Enter' && add()}
        />
      </td>
      <td>
        <button
          type="button"
          className="sf-composer-param-add"
          title="Add this parameter"
          disabled={!name.trim()}
          onClick={add}
        >
          Add
        </button>
      </td>
    </tr>
  );
}

function Dependencies(props: {
  node: ComposerNode;
  siblings: ComposerNode[];
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const { node, siblings, send } = props;
  const choices = siblings.filter(s => s.name !== node.name && !node.dependsOn.includes(s.name));
  const [choice, setChoice] = React.useState('');
  const picked = choices.some(c => c.name === choice) ? choice : (choices[0]?.name ?? '');
  return (
    <div className="sf-composer-section sf-composer-deps">
      <div className="sf-composer-section-title">Runs after</div>
      {node.dependsOn.length === 0 ? <div className="sf-composer-hint">nothing: it can start first</div> : null}
      <ul className="sf-composer-dep-list">
        {node.dependsOn.map(dep => (
          <li key={dep} className="sf-composer-dep" data-dep={dep}>
            <span>{dep}</span>
            <button
              type="button"
              className="sf-composer-dep-remove"
              title={`${node.name} no longer runs after ${dep}`}
              aria-label={`remove dependency on ${dep}`}
              onClick={() =>
                send({ event: 'disconnect', source: siblingAddress(node.address, dep), target: node.address })
              }
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {choices.length > 0 ? (
        <div className="sf-composer-dep-new">
          <select
            className="sf-composer-dep-choice"
            aria-label="a node to run after"
            value={picked}
            onChange={event => setChoice(event.target.value)}
          >
            {choices.map(c => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="sf-composer-dep-add"
            title={`${node.name} runs after the node chosen`}
            onClick={() =>
              send({ event: 'connect', source: siblingAddress(node.address, picked), target: node.address })
            }
          >
            Add
          </button>
        </div>
      ) : null}
    </div>
  );
}

export function Inspector(props: InspectorProps): React.ReactElement {
  const { selected, siblings, revision, send } = props;
  if (selected.length === 0) {
    return (
      <div className="sf-composer-inspector sf-empty">
        <div className="sf-composer-hint">
          Select a step to edit it. Drag from a node&apos;s right handle to another node&apos;s left handle: the
          second then runs after the first. Shift-click or shift-drag selects several nodes.
        </div>
      </div>
    );
  }
  if (selected.length > 1) {
    return (
      <div className="sf-composer-inspector">
        <div className="sf-composer-inspector-title">{selected.length} nodes selected</div>
        <div className="sf-composer-hint">
          Type a name and press Group selected to move them into a nested workflow, or Delete to remove them.
        </div>
      </div>
    );
  }
  const node = selected[0];
  const kind = isGroup(node) ? 'nested workflow' : node.kind === 'service' ? 'service' : 'step';
  const names = Object.keys(node.parameters).sort();
  return (
    <div className="sf-composer-inspector" data-address={node.address}>
      <div className="sf-composer-inspector-title">
        <span className="sf-composer-inspector-address">{node.address}</span>
        <span className="sf-composer-inspector-kind">{kind}</span>
      </div>
      {node.kind === 'executor' ? (
        <div className="sf-composer-source">
          {node.script !== null ? `script: ${node.script}` : `function: ${node.function ?? '(none)'}`}
        </div>
      ) : null}
      {node.kind === 'service' ? <div className="sf-composer-source">model: {node.modelUri ?? ''}</div> : null}
      {isGroup(node) ? (
        <div className="sf-composer-source">
          {node.nodes.length} node(s): {node.nodes.map(n => n.name).join(', ') || 'none yet'}
        </div>
      ) : null}
      {node.kind === 'executor' ? (
        <div className="sf-composer-section">
          <div className="sf-composer-section-title">Parameters</div>
          <table className="sf-composer-params">
            <tbody>
              {names.map(name => (
                <ParamRow
                  key={`${node.address}:${name}:${revision}`}
                  address={node.address}
                  name={name}
                  param={node.parameters[name]}
                  send={send}
                />
              ))}
              <NewParam key={node.address} address={node.address} existing={names} send={send} />
            </tbody>
          </table>
        </div>
      ) : null}
      <Dependencies key={node.address} node={node} siblings={siblings} send={send} />
    </div>
  );
}
