/**
 * The document editor's main area: the workflow picker, the run shown (its status and a legend of the state
 * colours), the composer canvas (composer/canvas.tsx, the notebook widget's canvas) and, for the selected step,
 * its record in that run and its logs.
 */
import * as React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';

import { ComposerApp } from '../composer/canvas';
import { ComposerNode, unplacedProblems } from '../composer/spec';
import { STATE_COLOURS } from '../graph/dot';
import { mlflowRun } from '../graph/details';
import { runLinks, uiRunUrl } from '../graph/links';
import { STATES } from '../graph/spec';
import { LogsAnswer, NodeRecord, query, requestAPI } from '../server/api';
import { statusColour } from '../sidebar/sidebar';
import { EditorController, RunView } from './controller';

/** The colours of the node states, named: what a coloured canvas means. */
export function Legend(): React.ReactElement {
  return (
    <div className="sf-legend" aria-label="state colours">
      {STATES.map(state => (
        <span key={state} className={`sf-legend-item sf-legend-${state}`}>
          <span className="sf-legend-swatch" style={{ background: STATE_COLOURS[state] }} />
          {state}
        </span>
      ))}
    </div>
  );
}

function duration(record: NodeRecord): string {
  if (record.started === null) {
    return record.state === 'cached' ? 'reused from an earlier run' : '–';
  }
  const end = record.finished ?? Date.now() / 1000;
  const s = Math.max(0, end - record.started);
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A step's MLflow run id as the graph's details show it: a link to the run (graph/links.ts), else text. */
function RunIdLink(props: { runId: string; trackingUri: string; experimentId: string }): React.ReactElement {
  const box = React.useRef<HTMLSpanElement>(null);
  React.useEffect(() => {
    const node = box.current;
    if (!node) {
      return;
    }
    // A server's own run page, unless its URI carries a user (a link must not).
    const http = /^https?:\/\//i.test(props.trackingUri);
    const server = http && !props.trackingUri.includes('@');
    const info = {
      mlflow_url: server ? uiRunUrl(props.trackingUri, props.experimentId, props.runId) : null,
      mlflow_store: http ? null : props.trackingUri,
      mlflow_experiment_id: props.experimentId
    };
    node.replaceChildren(mlflowRun(node.ownerDocument, props.runId, info, runLinks()));
  }, [props.runId, props.trackingUri, props.experimentId]);
  // No React children: the effect owns the span's content.
  return <span ref={box} className="sf-editor-mlflow" />;
}

/** A step's record in the run shown, and the tail of its logs (refreshed while it runs). */
export function StepRun(props: { run: RunView; appPath: string; node: ComposerNode }): React.ReactElement | null {
  const { run, appPath, node } = props;
  const record = run.detail?.nodes[node.address];
  const [stream, setStream] = React.useState<'stderr' | 'stdout'>('stdout');
  const [logs, setLogs] = React.useState<LogsAnswer | null>(null);
  const [failure, setFailure] = React.useState('');
  const state = record?.state ?? '';
  const updated = run.detail?.updated ?? 0;
  React.useEffect(() => {
    if (!record) {
      return undefined;
    }
    let live = true;
    requestAPI<LogsAnswer>(
      `logs${query({ path: appPath, run: run.runId, node: node.address, stream, lines: 200 })}`
    ).then(
      answer => live && (setLogs(answer), setFailure('')),
      error => live && setFailure(String(error.message ?? error))
    );
    return () => {
      live = false;
    };
  }, [appPath, run.runId, node.address, stream, state, updated]);
  if (!record) {
    return (
      <div className="sf-composer-section sf-editor-steprun">
        <div className="sf-composer-section-title">In run {run.runId}</div>
        <div className="sf-composer-hint">not part of this run</div>
      </div>
    );
  }
  const rows: [string, string][] = [
    ['state', record.state],
    ['attempts', String(record.attempts)],
    ['duration', duration(record)],
    ['exit code', record.exit_code === null ? '–' : String(record.exit_code)]
  ];
  if (record.cached_from) {
    rows.push(['reused from', record.cached_from]);
  }
  const mlflowRunId = record.mlflow_run_id ? String(record.mlflow_run_id) : '';
  return (
    <div className="sf-composer-section sf-editor-steprun" data-address={node.address}>
      <div className="sf-composer-section-title">In run {run.runId}</div>
      <table className="sf-editor-record">
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <td className="sf-editor-record-key">{k}</td>
              <td className={`sf-editor-record-value sf-editor-record-${k.replace(' ', '-')}`}>{v}</td>
            </tr>
          ))}
          {mlflowRunId ? (
            <tr key="mlflow">
              <td className="sf-editor-record-key">MLflow run</td>
              <td className="sf-editor-record-value sf-editor-record-MLflow-run">
                <RunIdLink runId={mlflowRunId} trackingUri={run.detail?.tracking_uri ?? ''} experimentId={run.detail?.experiment_id ?? ''} />
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {record.error ? <pre className="sf-editor-step-error">{record.error}</pre> : null}
      <div className="sf-editor-logs-header">
        <span>Logs</span>
        {(['stdout', 'stderr'] as const).map(s => (
          <button
            key={s}
            type="button"
            className={`sf-composer-button sf-editor-logs-${s}${s === stream ? ' sf-selected' : ''}`}
            aria-pressed={s === stream}
            onClick={() => setStream(s)}
          >
            {s}
          </button>
        ))}
      </div>
      {failure ? <div className="sf-composer-hint">{failure}</div> : null}
      <pre className="sf-editor-logs" data-stream={stream}>
        {logs && logs.node === node.address && logs.stream === stream
          ? logs.text || (logs.exists ? '(empty)' : '(nothing written yet)')
          : '…'}
      </pre>
    </div>
  );
}

function RunStrip(props: { controller: EditorController }): React.ReactElement | null {
  const run = props.controller.run;
  if (!run) {
    return null;
  }
  const nodes = Object.values(run.detail?.nodes ?? {});
  const done = nodes.filter(n => ['succeeded', 'cached', 'failed', 'skipped', 'cancelled'].includes(n.state)).length;
  return (
    <div className={`sf-editor-runstrip sf-run-status-${run.status}`} role="status">
      <span className="sf-editor-run-id">run {run.runId}</span>
      <span className={`sf-badge sf-badge-${run.status}`} style={{ background: statusColour(run.status) }}>
        {run.status}
      </span>
      {nodes.length ? <span className="sf-editor-run-progress">{`${done} of ${nodes.length} steps done`}</span> : null}
      <span className="sf-composer-hint">select a step for its record and logs</span>
    </div>
  );
}

function EditorView(props: { controller: EditorController }): React.ReactElement {
  const { controller } = props;
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = (): void => setTick(t => t + 1);
    controller.stateChanged.connect(bump);
    return () => {
      controller.stateChanged.disconnect(bump);
    };
  }, [controller]);
  const state = controller.state();
  const run = controller.run;
  const details = run
    ? (node: ComposerNode) => <StepRun run={run} appPath={controller.appPath} node={node} />
    : undefined;
  const general = unplacedProblems(state.spec, controller.problems);
  return (
    <div className="sf-editor-inner">
      <div className="sf-editor-header">
        <label className="sf-editor-workflow">
          workflow{' '}
          <select
            aria-label="workflow shown"
            value={controller.workflow}
            onChange={event => controller.selectWorkflow(event.target.value)}
          >
            {controller.workflows.map(w => (
              <option key={w} value={w}>
                {w}
              </option>
            ))}
          </select>
        </label>
        <span className="sf-editor-problems" role="status">
          {controller.problems.length
            ? `${controller.problems.length} problem${controller.problems.length === 1 ? '' : 's'} (marked ⚠ on the nodes)`
            : state.spec
              ? 'valid'
              : ''}
        </span>
        <Legend />
      </div>
      <RunStrip controller={controller} />
      {controller.textError ? (
        <div className="sf-composer-error sf-editor-text-error" role="alert">
          <span className="sf-composer-error-text">
            {`The text is not a valid scanflow.yaml; the canvas shows the last valid version.\n${controller.textError}`}
          </span>
        </div>
      ) : null}
      {general.length ? (
        <ul className="sf-editor-general-problems">
          {general.map((p, i) => (
            <li key={i}>{p.where ? `${p.where}: ${p.message}` : p.message}</li>
          ))}
        </ul>
      ) : null}
      <div className="sf-composer sf-editor-composer">
        <ComposerApp state={state} actions={controller.actions} details={details} />
      </div>
    </div>
  );
}

/** The Lumino widget holding the editor (the DocumentWidget's content). */
export class EditorPanel extends ReactWidget {
  constructor(readonly controller: EditorController) {
    super();
    this.addClass('sf-editor');
  }

  render(): React.ReactElement {
    return <EditorView controller={this.controller} />;
  }

  dispose(): void {
    this.controller.dispose();
    super.dispose();
  }
}
