import { test } from "node:test";
import assert from "node:assert/strict";

import { instanceVarsFromQuery, instanceVarsToQuery } from "../../src/core/instance-vars.js";
import type { InstanceVars } from "../../src/core/model.js";

/** The query string the API client sends: the pairs through URLSearchParams. */
const encode = (vars: InstanceVars) => new URLSearchParams(instanceVarsToQuery(vars)).toString();
const decode = (query: string) => instanceVarsFromQuery(new URLSearchParams(query));

// ---- writing: what atc.PipelineRef.QueryParams writes ---------------------------------------------

const written: Array<[name: string, vars: InstanceVars, pairs: Array<[string, string]>, query: string]> = [
  // Reference §3 and §5: ?vars.branch=%22main%22&vars.num=9000, and BUILD_URL on 8.1+.
  ["reference: branch and num", { branch: "main", num: 9000 }, [["vars.branch", '"main"'], ["vars.num", "9000"]], "vars.branch=%22main%22&vars.num=9000"],
  [
    "reference: BUILD_URL example, keys sorted",
    { num: 9000, env: "prod", branch: "main" },
    [["vars.branch", '"main"'], ["vars.env", '"prod"'], ["vars.num", "9000"]],
    "vars.branch=%22main%22&vars.env=%22prod%22&vars.num=9000",
  ],
  // atc/pipeline_test.go QueryParams cases.
  ["concourse: simple", { hello: "world", num: 123 }, [["vars.hello", '"world"'], ["vars.num", "123"]], "vars.hello=%22world%22&vars.num=123"],
  ["concourse: nested", { hello: { foo: 123, bar: false } }, [["vars.hello.bar", "false"], ["vars.hello.foo", "123"]], "vars.hello.bar=false&vars.hello.foo=123"],
  ["concourse: quoted", { "hello.1": { "foo:bar": "baz" } }, [['vars."hello.1"."foo:bar"', '"baz"']], "vars.%22hello.1%22.%22foo%3Abar%22=%22baz%22"],
  ["reference: a quoted key", { "my.key": "x" }, [['vars."my.key"', '"x"']], "vars.%22my.key%22=%22x%22"],
  [
    "every character Concourse quotes a segment for",
    { "a,b": 1, "a/b": 2, "a:b": 3, "a b": 4, plain: 5 },
    [['vars."a b"', "4"], ['vars."a,b"', "1"], ['vars."a/b"', "2"], ['vars."a:b"', "3"], ["vars.plain", "5"]],
    "vars.%22a+b%22=4&vars.%22a%2Cb%22=1&vars.%22a%2Fb%22=2&vars.%22a%3Ab%22=3&vars.plain=5",
  ],
  ["reference: nested objects flattened", { cfg: { region: "eu", deep: { x: 1 } } }, [["vars.cfg.deep.x", "1"], ["vars.cfg.region", '"eu"']], "vars.cfg.deep.x=1&vars.cfg.region=%22eu%22"],
  ["arrays are values, their objects sorted like Go", { list: ["a", { b: 1, a: 2 }] }, [["vars.list", '["a",{"a":2,"b":1}]']], "vars.list=%5B%22a%22%2C%7B%22a%22%3A2%2C%22b%22%3A1%7D%5D"],
  ["reference: a space becomes +", { title: "a b" }, [["vars.title", '"a b"']], "vars.title=%22a+b%22"],
  ["reference: non-ASCII is UTF-8 percent-encoded", { région: "été" }, [["vars.région", '"été"']], "vars.r%C3%A9gion=%22%C3%A9t%C3%A9%22"],
  ["reference: <, > and & as \\u escapes, like Go", { q: "a<b&c>d" }, [["vars.q", '"a\\u003cb\\u0026c\\u003ed"']], "vars.q=%22a%5Cu003cb%5Cu0026c%5Cu003ed%22"],
  ["U+2028 and U+2029 escaped like Go", { q: "a\u2028b\u2029" }, [["vars.q", '"a\\u2028b\\u2029"']], "vars.q=%22a%5Cu2028b%5Cu2029%22"],
  ["reference: numbers as JSON numbers", { a: 1500, b: 1.5, c: 1e21, d: 1e-7, e: -0 }, [["vars.a", "1500"], ["vars.b", "1.5"], ["vars.c", "1e+21"], ["vars.d", "1e-7"], ["vars.e", "-0"]], "vars.a=1500&vars.b=1.5&vars.c=1e%2B21&vars.d=1e-7&vars.e=-0"],
  ["booleans, null and empty strings", { t: true, f: false, n: null, s: "" }, [["vars.f", "false"], ["vars.n", "null"], ["vars.s", '""'], ["vars.t", "true"]], "vars.f=false&vars.n=null&vars.s=%22%22&vars.t=true"],
  ["sorted by code point like Go, not by UTF-16", { "\u{1F600}": 1, "\uFF21": 2, B: 3, a: 4 }, [["vars.B", "3"], ["vars.a", "4"], ["vars.\uFF21", "2"], ["vars.\u{1F600}", "1"]], "vars.B=3&vars.a=4&vars.%EF%BC%A1=2&vars.%F0%9F%98%80=1"],
  // Where Concourse's own form loses information, the value goes into vars=<object>.
  ["an empty nested object (Concourse drops it)", { cfg: {}, b: 1 }, [["vars.b", "1"], ["vars.cfg", "{}"]], "vars.b=1&vars.cfg=%7B%7D"],
  ["a key with a quote (the ATC strips quotes)", { 'say"hi': 1, ok: 2 }, [["vars", '{"say\\"hi":1}'], ["vars.ok", "2"]], "vars=%7B%22say%5C%22hi%22%3A1%7D&vars.ok=2"],
  ["a quoted key with a backslash (the ATC would not unescape %q)", { "a.b\\c": 1 }, [["vars", '{"a.b\\\\c":1}']], "vars=%7B%22a.b%5C%5Cc%22%3A1%7D"],
  ["a key with a tab at the end (the ATC trims it)", { "k\t": 1 }, [["vars", '{"k\\t":1}']], "vars=%7B%22k%5Ct%22%3A1%7D"],
  ["an empty key", { "": 1 }, [["vars", '{"":1}']], "vars=%7B%22%22%3A1%7D"],
  ["a key '..' (path.Clean since v8)", { "..": 1 }, [["vars", '{"..":1}']], "vars=%7B%22..%22%3A1%7D"],
  ["a nested key 'a//b' goes whole with its parent", { cfg: { "a//b": 1, c: 2 } }, [["vars", '{"cfg":{"a//b":1,"c":2}}']], "vars=%7B%22cfg%22%3A%7B%22a%2F%2Fb%22%3A1%2C%22c%22%3A2%7D%7D"],
  ["a key with spaces around survives in quotes", { " a ": 1 }, [['vars." a "', "1"]], "vars.%22+a+%22=1"],
  ["a key with a backslash and nothing to quote", { "a\\b": 1 }, [["vars.a\\b", "1"]], "vars.a%5Cb=1"],
  ["no vars: no parameters", {}, [], ""],
];

for (const [name, vars, pairs, query] of written) {
  test(`to query: ${name}`, () => {
    assert.deepEqual(instanceVarsToQuery(vars), pairs);
    assert.equal(encode(vars), query);
  });
}

test("to query: a __proto__ key is an ordinary key", () => {
  const vars = JSON.parse('{"__proto__":{"x":1},"constructor":2}') as InstanceVars;
  assert.deepEqual(instanceVarsToQuery(vars), [["vars.__proto__.x", "1"], ["vars.constructor", "2"]]);
});

// ---- reading: what atc.InstanceVarsFromQueryParams accepts ---------------------------------------

const read: Array<[name: string, query: string, vars: InstanceVars | null]> = [
  ["no parameters", "", null],
  ["no vars parameters", "filter=ref%3Aabc&limit=1", null],
  ["concourse: ignores non-var params", "vars.foo=123&varsfoo=whatever&ignore%22=blah", { foo: 123 }],
  ["reference: branch and num", "vars.branch=%22main%22&vars.num=9000", { branch: "main", num: 9000 }],
  ["reference: whole-object form", "vars=%7B%22branch%22%3A%22main%22%7D", { branch: "main" }],
  ["concourse: simple", "vars.hello=%22world%22&vars.foo=%22bar%22", { hello: "world", foo: "bar" }],
  ["concourse: complex refs", "vars.%22a.b%22.c.%22d%3Ae%22=%22f%22", { "a.b": { c: { "d:e": "f" } } }],
  ["concourse: root-level vars", "vars=%7B%22foo%22%3A%5B%22a%22%2C%7B%22b%22%3A123%7D%5D%7D", { foo: ["a", { b: 123 }] }],
  ["concourse: root-level vars with other subvars", "vars=%7B%22foo%22%3A%5B%22a%22%5D%7D&vars.bar=%22baz%22", { foo: ["a"], bar: "baz" }],
  ["a patch wins over the whole object, whatever the order", "vars.a=2&vars=%7B%22a%22%3A1%2C%22b%22%3A1%7D", { a: 2, b: 1 }],
  ["a patch goes into a nested object", "vars=%7B%22cfg%22%3A%7B%22a%22%3A1%7D%7D&vars.cfg.b=2", { cfg: { a: 1, b: 2 } }],
  ["a patch replaces a scalar with an object", "vars.cfg=1&vars.cfg.b=2", { cfg: { b: 2 } }],
  ["+ is a space", "vars.title=%22a+b%22", { title: "a b" }],
  ["raw quotes, as a browser may leave them", 'vars."my.key"="x"', { "my.key": "x" }],
  ["spaces around a segment are trimmed, as the ATC does", "vars.+a+.b=1", { a: { b: 1 } }],
  ["a repeated parameter: the first value, like Go's Get", "vars.a=1&vars.a=2", { a: 1 }],
  ["Go's \\u escapes", "vars.q=%22a%5Cu003cb%22", { q: "a<b" }],
  ["an empty object is no instance", "vars=%7B%7D", null],
  ["a __proto__ key is data", "vars.__proto__.x=1", JSON.parse('{"__proto__":{"x":1}}') as InstanceVars],
];

for (const [name, query, vars] of read) {
  test(`from query: ${name}`, () => {
    assert.deepEqual(decode(query), { ok: true, value: vars });
  });
}

const refused: Array<[name: string, query: string, problem: RegExp]> = [
  ["reference: the v8.0.x bug (a string without quotes)", "vars.branch=main&vars.env=prod", /vars\.(branch|env)=\w+ is not JSON; a string needs its quotes/u],
  ["concourse: invalid JSON", "vars.foo=%22123", /vars\.foo=.*not JSON/u],
  ["an empty value", "vars.foo=", /not JSON/u],
  ["concourse: invalid ref (trailing dot)", "vars.foo.=123", /empty key segment/u],
  ["an empty segment in the middle", "vars..a=1", /empty key segment/u],
  ["unclosed quotes", "vars.%22a=1", /unclosed quotes/u],
  ["an unquoted colon", "vars.a%3Ab=1", /unquoted ':'/u],
  ["vars= that is not an object", "vars=%5B1%5D", /not a JSON object/u],
  ["vars= a string", "vars=%22x%22", /not a JSON object/u],
  ["a number Go cannot hold", "vars.a=1e999", /out of range/u],
];

for (const [name, query, problem] of refused) {
  test(`from query refuses: ${name}`, () => {
    const got = decode(query);
    assert.equal(got.ok, false);
    if (!got.ok) assert.match(got.problems, problem);
  });
}

// ---- round trips ---------------------------------------------------------------------------------

const trips: Array<[name: string, vars: InstanceVars]> = [
  ["flat", { branch: "main", env: "prod", num: 9000 }],
  ["nested with quoted keys", { "field.1": { "subfield:1": 1, "subfield 2": ["1", 2, { k: "v" }] }, other: "field" }],
  ["deep nesting", { a: { b: { c: { d: { e: "f" } } } } }],
  ["values that need escaping", { q: 'a "quoted" <b> & c\\d\n\t', u: "été 🚀 \u2028", slash: "feature/x build 3" }],
  ["numbers", { int: 123, float: 123.456, big: 1e21, small: 5e-7, neg: -42, zero: 0 }],
  ["null, booleans, empty string, empty array", { n: null, t: true, f: false, s: "", a: [] }],
  ["empty nested object", { cfg: {}, x: 1 }],
  ["keys the dotted form cannot carry", { 'q"k': 1, "a.b\\c": { d: 2 }, "k\t": 3, "": 4, "..": 5, "a//b": 6, ok: { "x.y": 7 } }],
  ["unicode keys", { région: { "zöne": "ü" }, "\u{1F600}": 1 }],
  ["keys named like Object.prototype members", JSON.parse('{"__proto__":{"a":1},"constructor":{"b":2},"toString":3}') as InstanceVars],
  ["a key with both dotted and nested lookalikes", { "a.b": 1, a: { b: 2 } }],
];

for (const [name, vars] of trips) {
  test(`round trip: ${name}`, () => {
    assert.deepEqual(decode(encode(vars)), { ok: true, value: vars });
  });
}

test("round trip: Concourse's BUILD_URL query comes back byte for byte", () => {
  const query = "vars.branch=%22main%22&vars.env=%22prod%22&vars.num=9000";
  const got = decode(query);
  assert.ok(got.ok && got.value);
  assert.equal(encode(got.value), query);
});

test("from query never throws", () => {
  for (const query of ["vars=%E0%A4%A", "vars.%=1", "vars=" + "[".repeat(5000), "vars." + '"'.repeat(3) + "=1", "vars.a=1e999", "&&&==&vars"]) {
    const got = decode(query);
    assert.equal(typeof got.ok, "boolean");
  }
});
