#!/usr/bin/env node
// pool-boy as a Concourse resource: `pool-boy-resource check|in|out [DIR]`, the request on stdin.
// The image's /opt/resource/{check,in,out} call this.
import { resourceMain } from "../dist/src/resource/main.js";

const [op, ...argv] = process.argv.slice(2);
if (op !== "check" && op !== "in" && op !== "out") {
  process.stderr.write("usage: pool-boy-resource check|in|out [DIR] < request.json\n");
  process.exitCode = 2;
} else {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  process.exitCode = await resourceMain(op, {
    argv,
    env: process.env,
    stdin: Buffer.concat(chunks).toString("utf8"),
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
