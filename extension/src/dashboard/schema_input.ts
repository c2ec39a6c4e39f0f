// A graph's input, from its JSON Schema (GET /assistants/{id}/schemas → input_schema): whether it
// is a chat (a `messages` key), the simple form it can be given (strings, numbers, booleans, enums,
// lists of strings), a starting JSON value, and validation with errors a person can act on. No
// DOM here: the Playground's editor (pages/playground_input.ts) draws what this decides.

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | boolean;
  prefixItems?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  "x-reducer"?: string;
  /** the top-level keys in declaration order (the server stores schemas as jsonb, which reorders keys) */
  "x-order"?: string[];
}

export interface GraphSchemas {
  graph_id?: string;
  input_schema?: JsonSchema | null;
  output_schema?: JsonSchema | null;
  state_schema?: JsonSchema | null;
  config_schema?: JsonSchema | null;
  context_schema?: JsonSchema | null;
}

/** One problem with an input: where (a JSON pointer, "" for the whole value) and what. */
export interface InputError {
  path: string;
  message: string;
}

export type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "strings";

export interface Field {
  key: string;
  kind: FieldKind;
  label: string;
  /** the enum's values (kind "enum") */
  options?: unknown[];
  required: boolean;
  description?: string;
  default?: unknown;
}

/** The schema a `$ref` names inside `root` ("#", "#/$defs/X", "#/definitions/X"); the schema itself otherwise. */
export function resolve(schema: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (!schema.$ref || depth > 32) return schema;
  const ref = schema.$ref;
  if (ref === "#") return root;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const found = m ? (m[1] === "$defs" ? root.$defs : root.definitions)?.[decodeURIComponent(m[2])] : undefined;
  return found ? resolve(found, root, depth + 1) : {};
}

/** The top-level properties of an input schema (none when it describes no object). */
export function propertiesOf(schema: JsonSchema | null | undefined): Record<string, JsonSchema> {
  if (!schema) return {};
  const s = resolve(schema, schema);
  const props = s.properties && typeof s.properties === "object" ? s.properties : {};
  return Object.fromEntries(keyOrder(Object.keys(props), schema["x-order"] ?? s["x-order"]).map((k) => [k, props[k]]));
}

/** `keys` in the order `order` gives (keys it does not name last, as they were). */
export function keyOrder(keys: readonly string[], order: readonly string[] | undefined): string[] {
  if (!Array.isArray(order)) return [...keys];
  const rank = new Map(order.map((k, i) => [k, i]));
  return [...keys].sort((a, b) => (rank.get(a) ?? order.length) - (rank.get(b) ?? order.length));
}

/** A graph the Playground chats with: its input has a `messages` key. */
export function isChatSchema(schema: JsonSchema | null | undefined): boolean {
  return "messages" in propertiesOf(schema);
}

function types(s: JsonSchema): string[] {
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

/** `X | None` (anyOf [X, {type: null}], or type [X, "null"]): X; the schema otherwise. */
function withoutNull(s: JsonSchema, root: JsonSchema): JsonSchema {
  const r = resolve(s, root);
  const options = r.anyOf ?? r.oneOf;
  if (options) {
    const rest = options.filter((o) => !types(resolve(o, root)).includes("null") || types(resolve(o, root)).length > 1);
    if (rest.length === 1 && rest.length < options.length) return { ...resolve(rest[0], root), description: r.description, default: r.default };
  }
  const t = types(r);
  if (t.length === 2 && t.includes("null")) return { ...r, type: t.find((x) => x !== "null") };
  return r;
}

function kindOf(prop: JsonSchema, root: JsonSchema): { kind: FieldKind; options?: unknown[] } | null {
  const s = withoutNull(prop, root);
  if (Array.isArray(s.enum) && s.enum.length && s.enum.every((v) => ["string", "number", "boolean"].includes(typeof v))) return { kind: "enum", options: s.enum };
  const t = types(s);
  if (t.length !== 1) return null;
  if (t[0] === "string" || t[0] === "integer" || t[0] === "number" || t[0] === "boolean") return { kind: t[0] };
  if (t[0] === "array" && s.items && typeof s.items === "object" && !s.prefixItems) {
    const items = withoutNull(s.items, root);
    if (types(items).length === 1 && types(items)[0] === "string" && !items.enum) return { kind: "strings" };
  }
  return null;
}

function label(key: string, prop: JsonSchema): string {
  return typeof prop.title === "string" && prop.title.toLowerCase().replace(/\s+/g, "_") !== key.toLowerCase() ? `${prop.title} (${key})` : key;
}

/** The fields of a form for the schema, or null when some property is not simple (the JSON editor
 * then). A chat graph's `messages` is not a field: the chat box gives it. */
export function simpleFields(schema: JsonSchema | null | undefined): Field[] | null {
  if (!schema) return null;
  const root = schema;
  const props = propertiesOf(schema);
  const required = new Set(resolve(schema, root).required ?? []);
  const fields: Field[] = [];
  for (const [key, prop] of Object.entries(props)) {
    if (key === "messages") continue;
    const kind = kindOf(prop, root);
    if (!kind) return null;
    const r = resolve(prop, root);
    fields.push({ key, ...kind, label: label(key, r), required: required.has(key), description: r.description, default: r.default });
  }
  return fields.length ? fields : null;
}

/** What an empty value of a schema is, for a template. */
function emptyOf(prop: JsonSchema, root: JsonSchema): unknown {
  const s = withoutNull(prop, root);
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const options = s.anyOf ?? s.oneOf;
  if (options?.length) return emptyOf(options[0], root);
  switch (types(s)[0]) {
    case "string":
      return "";
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      return {};
    default:
      return null;
  }
}

/** A starting value for the JSON editor: the required keys, or else the first one (not the
 * messages of a chat: the chat box sends those). */
export function template(schema: JsonSchema | null | undefined): Record<string, unknown> {
  if (!schema) return {};
  const props = propertiesOf(schema);
  const required = (resolve(schema, schema).required ?? []).filter((k) => k in props && k !== "messages");
  const keys = required.length ? required : Object.keys(props).filter((k) => k !== "messages").slice(0, 1);
  return Object.fromEntries(keys.map((k) => [k, emptyOf(props[k], schema)]));
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  const actual = jsonType(v);
  return actual === t || (t === "number" && actual === "integer");
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

/** Whether a property holds chat messages (LangGraph's and ours differ in shape, and both
 * accept more than their schemas say, e.g. {"role": "user"}): only its being a list is checked. */
function isMessages(key: string, prop: JsonSchema): boolean {
  return key === "messages" || prop["x-reducer"] === "add_messages";
}

/**
 * The problems of `value` as an input of `schema` (none: it may be sent). An input is a partial
 * state update, so the top level's `required` is not enforced; everything below is, along with
 * types, enums, constants, bounds, array lengths, unknown keys where the schema closes the object,
 * and any/one/allOf.
 */
export function validateInput(value: unknown, schema: JsonSchema | null | undefined): InputError[] {
  if (!schema) return [];
  if (jsonType(value) !== "object") return [{ path: "", message: `the input must be a JSON object, not ${article(jsonType(value))}` }];
  const errors: InputError[] = [];
  const root = schema;
  const s = resolve(schema, root);
  const props = s.properties ?? {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const prop = props[key];
    const path = pointer("", key);
    if (!prop) {
      if (s.additionalProperties === false || (s.properties && s.additionalProperties === undefined && Object.keys(props).length)) {
        errors.push({ path, message: `unknown key "${key}": the graph's input has ${Object.keys(propertiesOf(schema)).map((k) => `"${k}"`).join(", ")}` });
      } else if (s.additionalProperties && typeof s.additionalProperties === "object") check(v, s.additionalProperties, root, path, errors);
      continue;
    }
    if (isMessages(key, resolve(prop, root))) {
      if (!Array.isArray(v) && typeof v !== "string" && jsonType(v) !== "object") errors.push({ path, message: "must be a list of messages" });
      continue;
    }
    check(v, prop, root, path, errors);
  }
  return errors;
}

function check(v: unknown, schema: JsonSchema | boolean, root: JsonSchema, path: string, errors: InputError[], depth = 0): void {
  if (schema === true || depth > 64) return;
  if (schema === false) {
    errors.push({ path, message: "no value is allowed here" });
    return;
  }
  const s = resolve(schema, root);
  const t = types(s);
  if (t.length && !t.some((x) => typeMatches(v, x))) {
    errors.push({ path, message: `must be ${t.map(article).join(" or ")}, not ${article(jsonType(v))}` });
    return;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    errors.push({ path, message: `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(", ")}` });
    return;
  }
  if ("const" in s && JSON.stringify(s.const) !== JSON.stringify(v)) errors.push({ path, message: `must be ${JSON.stringify(s.const)}` });
  if (typeof v === "number") {
    if (typeof s.minimum === "number" && v < s.minimum) errors.push({ path, message: `must be at least ${s.minimum}` });
    if (typeof s.maximum === "number" && v > s.maximum) errors.push({ path, message: `must be at most ${s.maximum}` });
  }
  if (typeof v === "string") {
    if (typeof s.minLength === "number" && v.length < s.minLength) errors.push({ path, message: `must have at least ${s.minLength} characters` });
    if (typeof s.maxLength === "number" && v.length > s.maxLength) errors.push({ path, message: `must have at most ${s.maxLength} characters` });
    if (typeof s.pattern === "string") {
      try {
        if (!new RegExp(s.pattern, "u").test(v)) errors.push({ path, message: `must match ${s.pattern}` });
      } catch {
        // a pattern this browser cannot compile checks nothing
      }
    }
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === "number" && v.length < s.minItems) errors.push({ path, message: `must have at least ${s.minItems} item(s)` });
    if (typeof s.maxItems === "number" && v.length > s.maxItems) errors.push({ path, message: `must have at most ${s.maxItems} item(s)` });
    v.forEach((item, i) => {
      const own = s.prefixItems?.[i];
      if (own) check(item, own, root, pointer(path, i), errors, depth + 1);
      else if (s.items !== undefined) check(item, s.items, root, pointer(path, i), errors, depth + 1);
    });
  }
  if (jsonType(v) === "object") {
    const obj = v as Record<string, unknown>;
    for (const key of s.required ?? []) if (!(key in obj)) errors.push({ path, message: `"${key}" is required` });
    const props = s.properties ?? {};
    for (const [key, item] of Object.entries(obj)) {
      if (props[key]) check(item, props[key], root, pointer(path, key), errors, depth + 1);
      else if (s.additionalProperties === false) errors.push({ path: pointer(path, key), message: `unknown key "${key}"` });
      else if (s.additionalProperties && typeof s.additionalProperties === "object") check(item, s.additionalProperties, root, pointer(path, key), errors, depth + 1);
    }
  }
  for (const sub of s.allOf ?? []) check(v, sub, root, path, errors, depth + 1);
  const options = s.anyOf ?? s.oneOf;
  if (options?.length) {
    const passing = options.filter((o) => {
      const found: InputError[] = [];
      check(v, o, root, path, found, depth + 1);
      return found.length === 0;
    });
    if (!passing.length) {
      const kinds = [...new Set(options.flatMap((o) => types(resolve(o, root))))];
      errors.push({ path, message: kinds.length ? `must be ${kinds.map(article).join(" or ")} as the schema describes` : "matches none of the allowed forms" });
    }
  }
}

/** Where a JSON.parse error is, as "line L, column C" of `text` (when the browser says). */
export function parseErrorText(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  if (!m) return `not valid JSON: ${message}`;
  const at = Number(m[1]);
  const before = text.slice(0, at).split("\n");
  return `not valid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: ${message.replace(/ in JSON at position \d+.*$/, "")}`;
}

/** A field's text from the form as a value: undefined when left empty (the key is not sent), or an error. */
export function fieldValue(field: Field, text: string): { value?: unknown; error?: string } {
  const t = field.kind === "strings" ? text : text.trim();
  if (t === "" || (field.kind === "strings" && !t.trim())) return {};
  switch (field.kind) {
    case "string":
      return { value: text };
    case "integer": {
      const n = Number(t);
      return Number.isInteger(n) && /^[-+]?\d+$/.test(t) ? { value: n } : { error: "must be a whole number" };
    }
    case "number": {
      const n = Number(t);
      return Number.isFinite(n) && t !== "" ? { value: n } : { error: "must be a number" };
    }
    case "boolean":
      return t === "true" ? { value: true } : t === "false" ? { value: false } : { error: "must be true or false" };
    case "enum": {
      const found = field.options?.find((o) => String(o) === t);
      return found !== undefined ? { value: found } : { error: `must be one of ${(field.options ?? []).map(String).join(", ")}` };
    }
    case "strings":
      return { value: text.split("\n").map((s) => s.trim()).filter((s) => s) };
  }
}

/** A value's text in a form field (the inverse of fieldValue). */
export function fieldText(field: Field, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (field.kind === "strings") return Array.isArray(value) ? value.map(String).join("\n") : "";
  return String(value);
}

/** A short title for an input (a thread's first input): its first message's text, or its keys and values. */
export function inputTitle(input: unknown, max = 48, order?: readonly string[]): string {
  let text = "";
  if (input && typeof input === "object" && !Array.isArray(input)) {
    const obj = input as Record<string, unknown>;
    const messages = obj.messages;
    const first = Array.isArray(messages) ? messages[0] : undefined;
    if (first !== undefined) text = messageContent(first);
    else
      text = keyOrder(Object.keys(obj), order)
        .map((k) => [k, obj[k]] as const)
        .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(", ");
  } else if (input !== undefined && input !== null) text = typeof input === "string" ? input : JSON.stringify(input);
  text = text.replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function messageContent(m: unknown): string {
  if (typeof m === "string") return m;
  if (Array.isArray(m)) return m.length === 2 && typeof m[1] === "string" ? m[1] : ""; // ("user", "text")
  if (!m || typeof m !== "object") return "";
  const c = (m as { content?: unknown }).content;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((b) => (typeof b === "string" ? b : b && typeof b === "object" && "text" in b ? String((b as { text: unknown }).text) : "")).join("");
  return "";
}
