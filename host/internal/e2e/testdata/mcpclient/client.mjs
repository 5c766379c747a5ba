// The e2e tests' MCP client: the official TypeScript SDK (pinned in
// package.json), which nobody here wrote, driving `relay-host mcp`.
//
// It reads a plan as JSON on stdin:
//   {"command", "args", "env", "cwd"}  start the server over stdio, or
//   {"url", "token"}                   connect over Streamable HTTP;
//   "roots": [dir…]                    declare these roots (else none);
//   "steps": [{"tool", "args"} | {"waitfile": path}]
// and prints one JSON line per step: initialize, tools/list, then each tool
// call's result (or error) with the progress messages it received. "$job"
// in a step's args is the last job_id a result carried. The SDK client
// checks every structured result against the tool's outputSchema.
import { readFileSync, existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const plan = JSON.parse(readFileSync(0, "utf8"));
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

let transport;
if (plan.url) {
  const headers = plan.token ? { Authorization: "Bearer " + plan.token } : {};
  transport = new StreamableHTTPClientTransport(new URL(plan.url), { requestInit: { headers } });
} else {
  transport = new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, cwd: plan.cwd, stderr: "inherit" });
}
const client = new Client({ name: "relay-e2e", version: "1.0.0" }, plan.roots ? { capabilities: { roots: {} } } : {});
if (plan.roots) {
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: plan.roots.map((d) => ({ uri: pathToFileURL(d).href })) }));
}
try {
  await client.connect(transport);
} catch (e) {
  out({ step: "initialize", error: String(e?.message ?? e) });
  process.exit(0);
}
out({ step: "initialize", server: client.getServerVersion(), capabilities: client.getServerCapabilities() });
out({ step: "tools", tools: (await client.listTools()).tools });

let job = "";
for (const s of plan.steps ?? []) {
  if (s.waitfile) {
    while (!existsSync(s.waitfile)) await sleep(20);
    out({ step: "waitfile" });
    continue;
  }
  const args = JSON.parse(JSON.stringify(s.args ?? {}).replaceAll("$job", job));
  const progress = [];
  try {
    const result = await client.callTool({ name: s.tool, arguments: args }, undefined, {
      onprogress: (p) => progress.push(p.message),
      timeout: 600000,
    });
    if (result.structuredContent?.job_id) job = result.structuredContent.job_id;
    out({ step: s.tool, result, progress });
  } catch (e) {
    out({ step: s.tool, error: String(e?.message ?? e), progress });
  }
}
await client.close();
