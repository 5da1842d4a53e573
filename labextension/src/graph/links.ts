/**
 * Where a step's MLflow run id leads (issue 19: it was plain text). A run on an MLflow server links to the
 * server's run page (`mlflow_url`, made in Python); a run in a SQLite or file store opens in the MLflow UI when
 * one is configured (the `mlflowUiUrl` setting), else in the run browser (a console running a RunBrowser on
 * that run), which the JupyterLab plugin registers with `configureRunLinks`. Without either (a notebook page
 * outside JupyterLab), the id stays text.
 */

export interface RunLinks {
  /** Base URL of an MLflow UI serving the same store ('' for none). */
  uiUrl: string;
  /** Open run `runId` of the store `store` in the run browser (null outside JupyterLab). */
  open: ((store: string, runId: string) => void) | null;
}

const current: RunLinks = { uiUrl: '', open: null };

/** Set what run ids link to (the plugin calls this once, and again when the settings change). */
export function configureRunLinks(update: Partial<RunLinks>): void {
  Object.assign(current, update);
}

/** What run ids link to now. */
export function runLinks(): RunLinks {
  return { ...current };
}

/** The page of run `runId` in the MLflow UI at `base` (http or https only), or null. */
export function uiRunUrl(base: string, experimentId: string, runId: string): string | null {
  if (!/^https?:\/\//i.test(base) || !experimentId || !runId) {
    return null;
  }
  return `${base.replace(/\/+$/, '')}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
}

/** Python source that opens run `runId` of `store` in a RunBrowser (both quoted as Python strings). */
export function openRunSource(store: string, runId: string): string {
  const q = (text: string): string => JSON.stringify(text); // a JSON string is a valid Python string literal
  return [
    'from scanflow_jupyter.notebook import RunBrowser',
    `_sf_runs = RunBrowser(${q(store)})`,
    `_sf_runs.open_run(${q(runId)})`,
    '_sf_runs'
  ].join('\n');
}
