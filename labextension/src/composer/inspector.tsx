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
  Field,
  PARAM_TYPES,
  ParamSpec,
  ParamType,
  dependencyChoices,
  fieldText,
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
  /** More about the selected node, after its properties (the document editor's run and logs). */
  details?: (node: ComposerNode) => React.ReactNode;
  /** Validation problems by node address: the selected node's are listed in words (the node only has a badge). */
  problems?: { readonly [address: string]: string[] };
}

/** The properties a step's inspector edits, with their labels and hints. */
const PROPERTIES: readonly { field: Field; label: string; placeholder: string; hint: string }[] = [
  { field: 'requirements', label: 'requirements', placeholder: 'requirements.txt or numpy, pandas', hint: 'a requirements file, or packages separated by commas' },
  { field: 'retries', label: 'retries', placeholder: '0', hint: 'attempts after a failure, with exponential backoff' },
  { field: 'timeout', label: 'timeout (s)', placeholder: 'none', hint: 'seconds before the step is stopped' },
  { field: 'resources.cpu', label: 'cpu', placeholder: 'e.g. 1 or 500m', hint: 'cores on Docker or Kubernetes' },
  { field: 'resources.memory', label: 'memory', placeholder: 'e.g. 512Mi', hint: 'a quantity such as 512Mi or 2Gi' },
  { field: 'resources.gpu', label: 'gpu', placeholder: '0', hint: 'GPUs on Kubernetes' }
];

/** One property: a text field committed on Enter or blur (Escape puts the value back). */
function PropertyRow(props: {
  node: ComposerNode;
  field: Field;
  label: string;
  placeholder: string;
  hint: string;
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const { node, field, send } = props;
  const current = fieldText(node, field);
  const [draft, setDraft] = React.useState(current);
  const commit = (): void => {
    if (draft.trim() !== current) {
      send({ event: 'set_field', address: node.address, field, value: draft.trim() });
    }
  };
  return (
    <tr className="sf-composer-property" data-field={field}>
      <td className="sf-composer-property-name" title={props.hint}>
        {props.label}
      </td>
      <td>
        <input
          type="text"
          className="sf-composer-property-value"
          aria-label={`${props.label} of ${node.name}`}
          placeholder={props.placeholder}
          value={draft}
          onChange={event => setDraft(event.target.value)}
          onBlur={commit}
          onKeyDown={event => {
            if (event.key === 'Enter') {
              commit();
            } else if (event.key === 'Escape') {
              setDraft(current);
            }
          }}
        />
      </td>
    </tr>
  );
}

function Properties(props: {
  node: ComposerNode;
  revision: number;
  send: (message: ComposerMessage) => void;
}): React.ReactElement {
  const { node, revision, send } = props;
  const source: Field = node.script !== null || node.function === null ? 'script' : 'function';
  return (
    <div className="sf-composer-section sf-composer-properties">
      <div className="sf-composer-section-title">Properties</div>
      <table className="sf-composer-property-table">
        <tbody>
          <PropertyRow
            key={`${node.address}:${source}:${revision}`}
            node={node}
            field={source}
            label={source}
            placeholder={source === 'script' ? 'steps/NAME.py' : 'module:function'}
            hint={source === 'script' ? 'the script, relative to the application folder' : 'the function the step calls'}
            send={send}
          />
          {PROPERTIES.map(p => (
            <PropertyRow key={`${node.address}:${p.field}:${revision}`} node={node} {...p} send={send} />
          ))}
        </tbody>
      </table>
    </div>
  );
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
  // Only the siblings it can run after: one that runs after it (directly or not) would close a cycle.
  const choices = dependencyChoices(node, siblings);
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
  const { selected, siblings, revision, send, details } = props;
  const problems = selected.length === 1 ? (props.problems?.[selected[0].address] ?? []) : [];
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
      {problems.length ? (
        <div className="sf-composer-problems" role="alert">
          <div className="sf-composer-section-title">
            {problems.length === 1 ? '1 problem' : `${problems.length} problems`} (fix before running)
          </div>
          <ul>
            {problems.map((text, i) => (
              <li key={i} className="sf-composer-problem">
                {text}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
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
      {node.kind === 'executor' ? <Properties node={node} revision={revision} send={send} /> : null}
      <Dependencies key={node.address} node={node} siblings={siblings} send={send} />
      {details ? details(node) : null}
    </div>
  );
}
