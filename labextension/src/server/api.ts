/**
 * The server extension's API (`scanflow_jupyter/server/handlers.py`, under `/scanflow/api/`): typed requests
 * through JupyterLab's ServerConnection (token and XSRF handled there), the run event stream, and the shapes
 * the handlers answer. Names mirror the Python TypedDicts (`AppSummary` <-> `AppSummary`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const API_BASE = 'scanflow/api';

export interface RunSummary {
  run_id: string;
  workflow: string;
  status: string;
  created: number;
  updated: number;
  counts: { [state: string]: number };
  total: number;
}

export interface WorkflowSummary {
  name: string;
  kind: string;
  steps: number;
}

export interface AppSummary {
  path: string;
  name: string;
  workflows: WorkflowSummary[];
  runs: RunSummary[];
  error: string;
}

export interface AppsAnswer {
  root: string;
  apps: AppSummary[];
  limited: boolean;
}

export interface NodeRecord {
  state: string;
  attempts: number;
  started: number | null;
  finished: number | null;
  exit_code: number | null;
  mlflow_run_id: string | null;
  cached_from: string | null;
  error: string | null;
}

export interface RunDetail extends RunSummary {
  app_path: string;
  mlflow_run_id: string | null;
  tracking_uri: string | null;
  /** The MLflow experiment of the run's MLflow runs (for links to an MLflow UI). */
  experiment_id?: string | null;
  nodes: { [address: string]: NodeRecord };
}

export interface ProblemData {
  where: string;
  message: string;
}

/** The editor's view of a spec text (`compose.Document`). */
export interface DocumentAnswer {
  text: string;
  workflows: string[];
  workflow: string;
  spec: unknown;
  problems: ProblemData[];
  python_code?: string;
}

export interface LogsAnswer {
  node: string;
  stream: 'stdout' | 'stderr';
  text: string;
  exists: boolean;
}

/** A refused request: the status and the message a person reads (the server's `message`). */
export class ScanflowAPIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: ProblemData[] = []
  ) {
    super(message);
  }
}

/** Where `route` (`apps?path=...`) lives on this server. */
export function apiURL(route: string, settings: ServerConnection.ISettings = ServerConnection.makeSettings()): string {
  return URLExt.join(settings.baseUrl, API_BASE, route);
}

export function query(params: { [key: string]: string | number }): string {
  const parts = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** GET or POST a route; a refused request throws a ScanflowAPIError with the server's message. */
export async function requestAPI<T>(route: string, body?: unknown): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const init: RequestInit = body === undefined ? { method: 'GET' } : { method: 'POST', body: JSON.stringify(body) };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(apiURL(route, settings), init, settings);
  } catch (error) {
    throw new ScanflowAPIError(0, `The Jupyter server did not answer (${String(error)}).`);
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const obj = (data ?? {}) as { message?: unknown; problems?: unknown };
    const message =
      typeof obj.message === 'string'
        ? obj.message
        : response.status === 404 && !text.includes('{')
          ? 'The Scanflow server extension is not enabled: run `jupyter server extension enable scanflow_jupyter` and restart.'
          : `${response.status} ${response.statusText}`;
    throw new ScanflowAPIError(response.status, message, Array.isArray(obj.problems) ? (obj.problems as ProblemData[]) : []);
  }
  return data as T;
}

/** What a run's event stream says (see `EventsHandler`). */
export type RunEvent =
  | { event: 'waiting'; data: { run_id: string } }
  | { event: 'state'; data: RunDetail }
  | { event: 'end'; data: { run_id: string; status: string } };

/**
 * Follow run `runId` of the application at `path`: `onEvent` gets every event until the run ends (then the
 * stream is closed). Returns a function that stops following.
 */
export function followRun(path: string, runId: string, onEvent: (event: RunEvent) => void): () => void {
  const settings = ServerConnection.makeSettings();
  const params: { [key: string]: string } = { path, run: runId };
  if (settings.token) {
    params.token = settings.token; // EventSource sends no headers: the token goes in the query, as for websockets
  }
  const source = new EventSource(apiURL(`events${query(params)}`, settings), { withCredentials: true });
  let closed = false;
  const close = (): void => {
    closed = true;
    source.close();
  };
  const on = (name: RunEvent['event']) => (message: MessageEvent) => {
    if (closed) {
      return;
    }
    try {
      onEvent({ event: name, data: JSON.parse(String(message.data)) } as RunEvent);
    } finally {
      if (name === 'end') {
        close();
      }
    }
  };
  source.addEventListener('waiting', on('waiting'));
  source.addEventListener('state', on('state'));
  source.addEventListener('end', on('end'));
  return close;
}
