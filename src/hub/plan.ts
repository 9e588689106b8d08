/**
 * Which files a BGE-M3 layout needs, decided from a repository's file list (the Hub's tree
 * listing, or the files of a cached snapshot). Pure: no I/O besides the `tree` callback.
 */
import { posix } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import { HEADS_REPO, QUANTIZED_REPO } from "./env.js";
import type { HubVariant } from "./types.js";

export type HubLayout = "three-heads-aapot" | "three-heads-yuniko" | "encoder-only";

/** One file to resolve: `path` in `repo` at `revision`. */
export interface FilePick {
  repo: string;
  revision: string;
  path: string;
}

export interface Plan {
  layout: HubLayout;
  variant: HubVariant;
  /** Repository holding the ONNX graph. */
  graphRepo: string;
  /** Files to resolve; the graph comes last, so its presence in a snapshot marks a complete set. */
  picks: FilePick[];
  /** The ONNX graph (last of `picks`). */
  graph: FilePick;
  /** External-data / Constant_* files guessed from names (replaced by what the graph refers to, once read). */
  sidecars: FilePick[];
  /** Heads, tokenizer, config. */
  others: FilePick[];
  /** All files of the graph's repository (to check what the graph refers to). */
  graphTree: readonly string[];
}

/** Lists a repository's files at a revision; undefined when it is not available (offline, not cached). */
export type TreeSource = (repo: string, revision: string) => Promise<string[] | undefined>;

const ENCODER_FILE: Record<HubVariant, string> = { fp32: "model.onnx", int8: "model_quantized.onnx", fp16: "model_fp16.onnx" };
const HEADS = ["sparse_linear.pt", "colbert_linear.pt"];

const folderOf = (p: string): string => (p.includes("/") ? p.slice(0, p.lastIndexOf("/") + 1) : "");
const baseOf = (p: string): string => p.slice(p.lastIndexOf("/") + 1);

/** External-data files of `graph` (`<graph>_data`, `<graph>.data`, numbered shards) and `Constant_*` sidecars in its folder. */
export function sidecarsOf(graph: string, files: readonly string[]): string[] {
  const folder = folderOf(graph);
  const name = baseOf(graph);
  return files.filter((f) => {
    if (f === graph || folderOf(f) !== folder) return false;
    const b = baseOf(f);
    if (b.startsWith("Constant_")) return true;
    return b.startsWith(name) && /^[._]data(_?\d+)?$/.test(b.slice(name.length));
  });
}

interface Found {
  layout: HubLayout;
  graph: string;
}

/** The graph of `variant` in a file list, and its layout. */
function findGraph(files: readonly string[], variant: HubVariant): Found | undefined {
  const has = new Set(files);
  if (variant === "fp32") {
    if (has.has("bge_m3_model.onnx")) return { layout: "three-heads-yuniko", graph: "bge_m3_model.onnx" };
    if (has.has("model.onnx")) return { layout: "three-heads-aapot", graph: "model.onnx" };
  }
  const enc = `onnx/${ENCODER_FILE[variant]}`;
  return has.has(enc) ? { layout: "encoder-only", graph: enc } : undefined;
}

const notInRepo = (repo: string, revision: string, what: string, files: readonly string[]): M3Error => {
  const shown = files.length > 30 ? [...files.slice(0, 30), `… (${files.length - 30} more)`] : files;
  return new M3Error(
    ErrorCodes.MODEL_NOT_FOUND,
    `${repo}@${revision} has ${what}. Its files: ${shown.join(", ") || "none"}. Supported repositories: ` +
      `BAAI/bge-m3 (fp32; int8/fp16 come from Xenova/bge-m3), Xenova/bge-m3 (fp32, int8, fp16), ` +
      `aapot/bge-m3-onnx and yuniko-software/bge-m3-onnx (fp32).`,
    { details: { repo, revision, files } },
  );
};

const missing = (repo: string, revision: string): M3Error =>
  new M3Error(ErrorCodes.HUB_OFFLINE, `${repo}@${revision} is not available.`, { details: { repo, revision } });

/**
 * Plans the files of `repo` for `variant`:
 * - three-head exports (root `bge_m3_model.onnx` or `model.onnx`): graph, sidecars, tokenizer.json, config.json;
 * - encoder-only (`onnx/model*.onnx`): graph, sidecars, tokenizer.json, config.json, and the heads
 *   `sparse_linear.pt` / `colbert_linear.pt` from the same repo or else from BAAI/bge-m3 (main);
 * - a repo that has the heads but not the variant's graph (BAAI/bge-m3 int8/fp16) takes the graph,
 *   tokenizer and config from Xenova/bge-m3 (main) and its own heads.
 * tokenizer.json missing from the graph's repo is taken from the heads' repo (BAAI/bge-m3).
 */
export async function planFiles(repo: string, revision: string, variant: HubVariant, tree: TreeSource): Promise<Plan> {
  const files = await tree(repo, revision);
  if (files === undefined) throw missing(repo, revision);
  let graphRepo = repo;
  let graphRev = revision;
  let graphFiles = files;
  let found = findGraph(files, variant);
  if (found === undefined && variant !== "fp32" && HEADS.every((h) => files.includes(h)) && repo !== QUANTIZED_REPO) {
    const q = await tree(QUANTIZED_REPO, "main");
    if (q === undefined) throw missing(QUANTIZED_REPO, "main");
    found = findGraph(q, variant);
    if (found !== undefined) [graphRepo, graphRev, graphFiles] = [QUANTIZED_REPO, "main", q];
  }
  if (found === undefined) {
    const other = (["fp32", "int8", "fp16"] as const).filter((v) => v !== variant && findGraph(files, v) !== undefined);
    throw notInRepo(repo, revision, `no ${variant} ONNX graph${other.length ? ` (it has ${other.join(", ")})` : ""}`, files);
  }
  const picks: FilePick[] = [];
  const pick = (r: string, rev: string, path: string): void => void picks.push({ repo: r, revision: rev, path });

  // Head files (encoder-only): from the requested repo when it has them, else BAAI/bge-m3.
  let headsSource: { repo: string; rev: string; files: readonly string[] } | undefined;
  if (found.layout === "encoder-only") {
    if (HEADS.every((h) => files.includes(h))) headsSource = { repo, rev: revision, files };
    else if (HEADS.every((h) => graphFiles.includes(h))) headsSource = { repo: graphRepo, rev: graphRev, files: graphFiles };
    else {
      const b = await tree(HEADS_REPO, "main");
      if (b === undefined) throw missing(HEADS_REPO, "main");
      if (!HEADS.every((h) => b.includes(h))) throw notInRepo(HEADS_REPO, "main", "no sparse_linear.pt / colbert_linear.pt", b);
      headsSource = { repo: HEADS_REPO, rev: "main", files: b };
    }
    for (const h of HEADS) pick(headsSource.repo, headsSource.rev, h);
  }
  for (const meta of ["tokenizer.json", "config.json"]) {
    if (graphFiles.includes(meta)) pick(graphRepo, graphRev, meta);
    else if (headsSource?.files.includes(meta)) pick(headsSource.repo, headsSource.rev, meta);
    else if (meta === "tokenizer.json") {
      const b = headsSource?.repo === HEADS_REPO ? headsSource.files : await tree(HEADS_REPO, "main");
      if (b === undefined) throw missing(HEADS_REPO, "main");
      if (!b.includes(meta)) throw notInRepo(graphRepo, graphRev, "no tokenizer.json", graphFiles);
      pick(HEADS_REPO, "main", meta);
    }
  }
  const sidecars = sidecarsOf(found.graph, graphFiles).map((path) => ({ repo: graphRepo, revision: graphRev, path }));
  const graph = { repo: graphRepo, revision: graphRev, path: found.graph };
  return {
    layout: found.layout,
    variant,
    graphRepo,
    picks: [...picks, ...sidecars, graph],
    graph,
    sidecars,
    others: picks,
    graphTree: graphFiles,
  };
}

/**
 * The picks for the external-data locations a graph refers to (relative to its folder), or an
 * error naming a location the repository does not have.
 */
export function sidecarsFromRefs(plan: Plan, locations: readonly string[]): FilePick[] {
  const folder = folderOf(plan.graph.path);
  return locations.map((loc) => {
    const path = posix.normalize(folder + loc.replace(/\\/g, "/"));
    if (path.startsWith("../") || posix.isAbsolute(path) || !plan.graphTree.includes(path)) {
      throw new M3Error(
        ErrorCodes.MODEL_INVALID,
        `${plan.graph.path} in ${plan.graph.repo} keeps weights in "${loc}", which the repository does not have; ` +
          `the export is incomplete or broken: report it to the repository's authors or pick another repository.`,
        { details: { repo: plan.graph.repo, graph: plan.graph.path, location: loc } },
      );
    }
    return { repo: plan.graph.repo, revision: plan.graph.revision, path };
  });
}
