// Type-level checks of the filter language, compiled by test/filter-brand.test.ts (not run).
// Every @ts-expect-error must be needed: an unused one is itself a compile error there.
import { parseFilter, type Filter, type MetadataFilter } from "../../src/backend/filter.js";
import type { AnyFilter } from "../../src/backend/types.js";
import type { SearchOptions } from "../../src/retrieve/options.js";

// @ts-expect-error a hand-built tree node is not a Filter: only parseFilter makes one (the brand)
export const handBuiltTree: Filter = { op: "eq", key: "lang", value: "en" };
// @ts-expect-error nor is it a user filter (it would be read as conditions on keys "op" and "key")
export const handBuiltAsUser: MetadataFilter = { op: "eq", key: "lang", value: "en" };
// @ts-expect-error nor does it pass where a backend takes either kind
export const handBuiltAsAny: AnyFilter = { op: "exists", key: "lang", value: true };
// @ts-expect-error nor where a search takes a filter
export const handBuiltInSearch: SearchOptions = { filter: { op: "eq", key: "lang", value: "en" } };
// @ts-expect-error nor nested in $and
export const handBuiltNested: MetadataFilter = { $and: [{ lang: "en" }, { op: "ne", key: "lang", value: "de" }] };

// What callers write, and what parseFilter gives, still type-check.
export const parsed: AnyFilter | undefined = parseFilter({ lang: "en" });
export const user: MetadataFilter = { lang: "en", year: { $gte: 2020 }, $or: [{ a: 1 }, { b: { $in: [1, 2] } }] };
export const keyNamedOp: MetadataFilter = { op: "create" };
export const keyNamedKey: SearchOptions = { filter: { key: { $ne: "x" } } };
export const bothInAnd: MetadataFilter = { $and: [{ op: "create" }, { key: "k" }] };
export const predicate: MetadataFilter = (doc) => doc.metadata["lang"] === "en";
