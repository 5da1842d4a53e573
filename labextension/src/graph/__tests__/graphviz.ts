/** Test helper: read DOT back through the real WebAssembly Graphviz (`dot_json`). */
import { Graphviz } from '@hpcc-js/wasm-graphviz';

export interface ParsedGraph {
  /** Node name -> attributes. */
  nodes: Map<string, { [attr: string]: string }>;
  /** Subgraph name -> attributes, its direct child subgraphs and all the nodes inside. */
  clusters: Map<string, { attrs: { [attr: string]: string }; children: string[]; nodes: string[] }>;
  edges: { tail: string; head: string; lhead?: string; ltail?: string }[];
  /** Names of the subgraphs not inside another one. */
  topClusters: string[];
}

interface JsonObject {
  _gvid: number;
  name: string;
  subgraphs?: number[];
  nodes?: number[];
  [attr: string]: unknown;
}

let graphviz: Promise<Graphviz> | null = null;

export async function parseDot(dot: string): Promise<ParsedGraph> {
  graphviz ??= Graphviz.load();
  const json = JSON.parse((await graphviz).layout(dot, 'dot_json', 'dot')) as {
    _subgraph_cnt?: number;
    objects?: JsonObject[];
    edges?: { tail: number; head: number; lhead?: string; ltail?: string }[];
  };
  const objects = json.objects ?? [];
  const nSub = json._subgraph_cnt ?? 0;
  const attrsOf = (o: JsonObject): { [attr: string]: string } => {
    const out: { [attr: string]: string } = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') {
        out[k] = v;
      }
    }
    return out;
  };
  const byId = new Map(objects.map(o => [o._gvid, o]));
  // Subgraphs come first in `objects`; `_gvid`s are unique across subgraphs and nodes.
  const nodeName = (gvid: number): string => byId.get(gvid)?.name ?? `?${gvid}`;
  const parsed: ParsedGraph = { nodes: new Map(), clusters: new Map(), edges: [], topClusters: [] };
  const childSubs = new Set<number>();
  objects.forEach((o, i) => {
    if (i < nSub) {
      (o.subgraphs ?? []).forEach(s => childSubs.add(s));
      parsed.clusters.set(o.name, {
        attrs: attrsOf(o),
        children: (o.subgraphs ?? []).map(s => byId.get(s)?.name ?? `?${s}`),
        nodes: (o.nodes ?? []).map(nodeName)
      });
    } else {
      parsed.nodes.set(o.name, attrsOf(o));
    }
  });
  objects.slice(0, nSub).forEach(o => {
    if (!childSubs.has(o._gvid)) {
      parsed.topClusters.push(o.name);
    }
  });
  parsed.edges = (json.edges ?? []).map(e => ({
    tail: nodeName(e.tail),
    head: nodeName(e.head),
    ...(e.lhead ? { lhead: e.lhead } : {}),
    ...(e.ltail ? { ltail: e.ltail } : {})
  }));
  return parsed;
}
