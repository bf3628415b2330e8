// A JSON Schema (draft-07) validator for the keywords the Compose specification's schema uses:
// type, enum, properties, patternProperties, additionalProperties, required, items, oneOf, anyOf,
// allOf, not, $ref (local), uniqueItems, minimum, maximum, pattern. `format` is not checked.
// Lets the tests validate docker-compose.yml where no `docker compose` plugin can run.

export type Schema = boolean | { readonly [k: string]: unknown };

export interface SchemaError {
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

export function validateSchema(root: Schema, value: unknown): SchemaError[] {
  const resolve = (ref: string): Schema => {
    if (!ref.startsWith('#/')) throw new Error(`only local $ref is supported, got ${ref}`);
    let node: unknown = root;
    for (const part of ref.slice(2).split('/')) {
      node = isObj(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
    return node as Schema;
  };

  const check = (schema: Schema, v: unknown, path: string): SchemaError[] => {
    if (schema === true) return [];
    if (schema === false) return [{ path, message: 'is not allowed here' }];
    const s = schema;
    const errors: SchemaError[] = [];
    if (typeof s['$ref'] === 'string') errors.push(...check(resolve(s['$ref']), v, path));
    if (s['type'] !== undefined) {
      const types = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
      if (!types.some((t) => typeMatches(v, t))) return [...errors, { path, message: `expected ${types.join(' or ')}, got ${typeOf(v)}` }];
    }
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => JSON.stringify(e) === JSON.stringify(v)))
      errors.push({ path, message: `expected one of ${JSON.stringify(s['enum'])}, got ${JSON.stringify(v)}` });
    if (typeof v === 'number') {
      if (typeof s['minimum'] === 'number' && v < s['minimum']) errors.push({ path, message: `below minimum ${s['minimum']}` });
      if (typeof s['maximum'] === 'number' && v > s['maximum']) errors.push({ path, message: `above maximum ${s['maximum']}` });
    }
    if (typeof v === 'string' && typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(v))
      errors.push({ path, message: `does not match ${s['pattern']}` });
    if (isObj(v)) {
      const props = isObj(s['properties']) ? s['properties'] : {};
      const patterns = isObj(s['patternProperties']) ? Object.entries(s['patternProperties']) : [];
      for (const req of Array.isArray(s['required']) ? (s['required'] as string[]) : []) {
        if (!(req in v)) errors.push({ path, message: `misses required property "${req}"` });
      }
      for (const [k, child] of Object.entries(v)) {
        const childPath = `${path}.${k}`;
        let matched = false;
        if (k in props) {
          matched = true;
          errors.push(...check(props[k] as Schema, child, childPath));
        }
        for (const [re, ps] of patterns) {
          if (new RegExp(re, 'u').test(k)) {
            matched = true;
            errors.push(...check(ps as Schema, child, childPath));
          }
        }
        if (!matched && s['additionalProperties'] !== undefined) {
          const ap = s['additionalProperties'] as Schema;
          if (ap === false) errors.push({ path: childPath, message: 'is not a known property' });
          else errors.push(...check(ap, child, childPath));
        }
      }
    }
    if (Array.isArray(v)) {
      if (s['items'] !== undefined && !Array.isArray(s['items'])) v.forEach((item, i) => errors.push(...check(s['items'] as Schema, item, `${path}[${i}]`)));
      if (s['uniqueItems'] === true && new Set(v.map((x) => JSON.stringify(x))).size !== v.length)
        errors.push({ path, message: 'has duplicate items' });
    }
    if (Array.isArray(s['allOf'])) for (const sub of s['allOf'] as Schema[]) errors.push(...check(sub, v, path));
    if (Array.isArray(s['anyOf'])) {
      const results = (s['anyOf'] as Schema[]).map((sub) => check(sub, v, path));
      if (!results.some((r) => r.length === 0)) errors.push({ path, message: `matches none of anyOf: ${results.map((r) => r[0]?.message).join(' | ')}` });
    }
    if (Array.isArray(s['oneOf'])) {
      const results = (s['oneOf'] as Schema[]).map((sub) => check(sub, v, path));
      const passing = results.filter((r) => r.length === 0).length;
      if (passing !== 1)
        errors.push({ path, message: passing === 0 ? `matches none of oneOf: ${results.map((r) => `${r[0]?.path} ${r[0]?.message}`).join(' | ')}` : `matches ${passing} of oneOf` });
    }
    if (s['not'] !== undefined && check(s['not'] as Schema, v, path).length === 0) errors.push({ path, message: 'matches a forbidden schema' });
    return errors;
  };

  return check(root, value, '$');
}
