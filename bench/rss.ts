// Fallback for machines without GNU time: runs the CLI in this process and writes its peak RSS
// (KiB, this node process only, not its git children) to a file on exit.
//   node dist/bench/rss.js OUT_FILE BIN ARGS…

import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [out, bin, ...rest] = process.argv.slice(2);
if (!out || !bin) {
  process.stderr.write("usage: rss.js OUT_FILE BIN ARGS…\n");
  process.exit(2);
}
process.on("exit", () => writeFileSync(out, `${process.resourceUsage().maxRSS}\n`));
process.argv = [process.argv[0] ?? "node", bin, ...rest];
await import(pathToFileURL(bin).href);
