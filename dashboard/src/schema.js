// What the API's OpenAPI document says about each assistant field: default, choices,
// limits, nullability. Read once per page load from /openapi.json.
import { api } from "./api.js";

let loading = null;

export function loadOpenApi() {
  loading ||= api.get("/openapi.json").catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

function resolve(openapi, schema) {
  let current = schema;
  while (current?.$ref) {
    current = openapi.components.schemas[current.$ref.split("/").pop()];
  }
  return current;
}

/** The non-null alternative of an `anyOf: [X, {type: null}]`, and whether null is allowed. */
function unwrap(openapi, schema) {
  const resolved = resolve(openapi, schema);
  const options = resolved?.anyOf;
  if (!options) return { schema: resolved, nullable: false };
  const others = options.filter((option) => option.type !== "null");
  return {
    schema: { ...resolve(openapi, others[0]), default: resolved.default },
    nullable: others.length < options.length,
  };
}

/** {default, hasDefault, required, choices, minimum, maximum, nullable, type} of a dotted path. */
export function describe(openapi, path) {
  let schema = openapi.components.schemas.AssistantIn;
  let property = null;
  let nullable = false;
  let required = false;
  for (const part of path.split(".")) {
    const container = unwrap(openapi, schema).schema;
    property = container?.properties?.[part];
    if (!property) return null;
    required = (container.required || []).includes(part);
    const unwrapped = unwrap(openapi, property);
    nullable = unwrapped.nullable;
    schema = property;
  }
  const leaf = unwrap(openapi, property);
  const target = leaf.schema || {};
  const hasDefault = "default" in property || "default" in target;
  const value = "default" in property ? property.default : target.default;
  return {
    type: target.type,
    choices: target.enum || null,
    minimum: target.minimum,
    maximum: target.maximum,
    nullable,
    required,
    hasDefault,
    // Lists and maps built by a default factory carry no default in the schema.
    default: hasDefault ? value : target.type === "array" ? [] : target.type === "object" ? {} : null,
  };
}

export function getPath(document, path) {
  return path.split(".").reduce((value, part) => (value == null ? undefined : value[part]), document);
}

export function setPath(document, path, value) {
  const parts = path.split(".");
  let target = document;
  for (const part of parts.slice(0, -1)) {
    if (target[part] == null || typeof target[part] !== "object") target[part] = {};
    target = target[part];
  }
  target[parts[parts.length - 1]] = value;
}

/** The choices of `property` in the API's schema named `model` (an enum, maybe by $ref). */
export function choicesOf(openapi, model, property) {
  const found = unwrap(openapi, openapi.components.schemas[model]?.properties?.[property]).schema;
  return found?.enum || [];
}
