/**
 * What the widget tests share: a comm that records what a model sends, the options that make a model
 * without a kernel, and a query that fails loudly. (The widget module's version is mocked for every test
 * in src/__tests__/setup.ts.)
 */

/** A message a model sent to the kernel. */
export interface Sent {
  method: string;
  state?: { [key: string]: unknown };
  content?: unknown;
}

/** A comm that records what the model sends and answers each message with an idle status. */
export class MockComm {
  comm_id = 'comm-1';
  target_name = 'jupyter.widget';
  sent: Sent[] = [];
  on_msg(): void {}
  on_close(): void {}
  close(): string {
    return 'closed';
  }
  open(): string {
    return 'open';
  }
  send(data: Sent, callbacks?: { iopub?: { status?: (msg: unknown) => void } }): string {
    this.sent.push(JSON.parse(JSON.stringify(data)));
    queueMicrotask(() => callbacks?.iopub?.status?.({ content: { execution_state: 'idle' } }));
    return `msg-${this.sent.length}`;
  }
  /** The trait updates sent (`save_changes`), oldest first. */
  updates(): { [key: string]: unknown }[] {
    return this.sent.filter(m => m.method === 'update').map(m => m.state ?? {});
  }
  /** The custom messages sent (`view.send`), oldest first. */
  custom(): unknown[] {
    return this.sent.filter(m => m.method === 'custom').map(m => m.content);
  }
}

/** The second argument of a widget model's constructor: a model `modelId` talking through `comm`. */
export function modelOptions(modelId: string, comm: MockComm): { model_id: string; widget_manager: never; comm: never } {
  const manager = { callbacks: () => ({}) };
  return { model_id: modelId, widget_manager: manager as never, comm: comm as never };
}

/** The first element under `root` matching `selector`; throws when there is none. */
export function query<T extends Element = Element>(root: Element, selector: string): T {
  const el = root.querySelector<T>(selector);
  if (!el) {
    throw new Error(`no ${selector}`);
  }
  return el;
}
