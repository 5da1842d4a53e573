/**
 * The shapes the RunBrowser model sends (see PROTOCOL.md, "RunBrowser").
 * Python side: `scanflow_jupyter/notebook/widgets/runs.py`.
 */
export type Value = string | number | boolean | null;

export interface RunRow {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
  user_id: string;
  parent_run_id: string | null;
  kind: string;
  workflow: string;
  node: string;
  state: string;
  children: number | null;
  values: Record<string, Value>;
}

export interface PageInfo {
  index: number;
  size: number;
  has_prev: boolean;
  has_next: boolean;
  total: number | null;
  backend: string;
}

export interface KeyRow {
  key: string;
  values: Value[];
  differs: boolean;
}

export interface History {
  run_id: string;
  key: string;
  steps: number[];
  values: Array<number | string>;
  total: number;
  downsampled: boolean;
}

export interface Comparison {
  runs: Array<{ run_id: string; run_name: string }>;
  params: KeyRow[];
  params_total: number;
  metrics: KeyRow[];
  metrics_total: number;
  chart_keys: string[];
  histories: Record<string, History[]>;
  full: boolean;
  chart_note?: string;
  /** Why the params and metrics are empty (workflow runs), and their step runs to compare instead. */
  empty_note?: string;
  step_runs?: string[];
  parallel: {
    axes: string[];
    runs: Array<{ run_id: string; values: Array<number | null> }>;
    /** Axis -> its category names, for params that are not numbers (values are indexes into them). */
    categories?: Record<string, string[]>;
    /** Why an axis kind is missing, or why there is nothing to draw. */
    note?: string;
  };
}

export interface Artifact {
  path: string;
  is_dir: boolean;
  size: number | null;
}

export interface RunDetail {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
  user_id: string;
  artifact_uri: string;
  params: Record<string, string>;
  metrics: Record<string, number | string>;
  metrics_total: number;
  metrics_search?: string;
  tags: Record<string, string>;
  artifacts: Artifact[];
  mlflow_url: string;
}

export interface Preview {
  path: string;
  kind: 'text' | 'csv' | 'image' | 'binary' | 'too_large' | 'dir';
  text?: string;
  rows?: string[][];
  data_url?: string;
  entries?: Artifact[];
  truncated?: boolean;
  size?: number | null;
  message?: string;
}
