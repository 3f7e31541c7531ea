/**
 * Where a request the SDK's own schema refused went wrong. The SDK throws `SDKValidationError` with its
 * zod error as `cause`: a tree of issues in which every union (a message is one of four roles, content a
 * string or a list of chunks) lists one branch of issues per alternative. The caller wants the one field
 * that is wrong (`messages[0].content`) and what it should be, not the tree. Pure: the error in, a field
 * and a sentence out.
 */

/** The parts of a zod (v3 or v4) issue read here. */
interface Issue {
  readonly code?: string;
  readonly path?: readonly (string | number)[];
  readonly message?: string;
  readonly expected?: string;
  readonly values?: readonly unknown[];
  /** A union's branches (v4), one list of issues per alternative. */
  readonly errors?: readonly (readonly Issue[])[];
  /** A union's branches (v3). */
  readonly unionErrors?: readonly { readonly issues?: readonly Issue[] }[];
}

/** The field that is wrong and what was expected of it. */
export interface LocatedIssue {
  /** The path in the caller's request, e.g. `messages[0].content[1].text`. */
  readonly field: string;
  readonly message: string;
}

/** The field path and message of an SDK validation error, or undefined when it carries no zod issues. */
export function locateValidationIssue(error: unknown): LocatedIssue | undefined {
  const issues = (error as { cause?: { issues?: unknown } } | undefined)?.cause?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  const { path, message } = locate(issues[0] as Issue, []);
  return { field: fieldPath(path), message };
}

/** `['messages', 0, 'content']` -> `messages[0].content`. */
export function fieldPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  return out === '' ? 'request' : out;
}

function branchesOf(issue: Issue): readonly (readonly Issue[])[] {
  if (Array.isArray(issue.errors)) return issue.errors;
  if (Array.isArray(issue.unionErrors)) return issue.unionErrors.map((branch) => branch.issues ?? []);
  return [];
}

/** A branch that refused the value's discriminator (`role`, `type`): the value is not of this alternative. */
const refusesDiscriminator = (branch: readonly Issue[]) => branch.some((i) => i.code === 'invalid_value' && i.path?.length === 1 && Array.isArray(i.values));

/** How far into a branch the value got: the depth of its first issue's path, unions followed. */
function depth(issues: readonly Issue[]): number {
  const first = issues[0];
  if (first === undefined) return 0;
  const own = first.path?.length ?? 0;
  const branches = branchesOf(first);
  return own + (branches.length === 0 ? 0 : Math.max(...branches.map(depth)));
}

function locate(issue: Issue, base: readonly (string | number)[]): { path: (string | number)[]; message: string } {
  const path = [...base, ...(issue.path ?? [])];
  const branches = branchesOf(issue);
  if (issue.code !== 'invalid_union' || branches.length === 0) return { path, message: plain(issue) };
  const matching = branches.filter((branch) => branch.length > 0 && !refusesDiscriminator(branch));
  if (matching.length === 0) {
    // No alternative took the discriminator: name it, with every value it may take.
    const refusals = branches.flatMap((branch) => branch.filter((i) => i.code === 'invalid_value' && i.path?.length === 1));
    const key = refusals[0]?.path?.[0];
    if (key === undefined) return { path, message: plain(issue) };
    const values = [...new Set(refusals.filter((i) => i.path?.[0] === key).flatMap((i) => i.values ?? []))];
    return { path: [...path, key], message: `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  // Alternatives of different types refused at the value itself (string or array): say both.
  if (matching.every((branch) => branch.length === 1 && branch[0]?.code === 'invalid_type' && (branch[0].path?.length ?? 0) === 0)) {
    const expected = matching.map((branch) => branch[0]?.expected ?? 'another type');
    const received = /received (\w+)/.exec(matching[0]?.[0]?.message ?? '')?.[1];
    return { path, message: `expected ${expected.join(' or ')}${received === undefined ? '' : `, received ${received}`}` };
  }
  // Otherwise the alternative the value got furthest into says what is wrong with it.
  let best = matching[0] as readonly Issue[];
  for (const branch of matching) if (depth(branch) > depth(best)) best = branch;
  return locate(best[0] as Issue, path);
}

/** A zod message without its "Invalid input: " prefix. */
function plain(issue: Issue): string {
  const message = issue.message ?? 'invalid';
  return message.replace(/^Invalid input: /, '');
}
