// Runs an AssemblyScript guest under node with asc's own JS glue, for tests/node.rs:
//
//   node node_run.mjs GUEST.wasm [EXPORT]
//
// GUEST.js beside GUEST.wasm is asc's `--bindings raw` output for that very .wasm (built with it
// by `cargo xtask testdata assemblyscript`): its `instantiate(module, imports)` supplies the
// imports (env.abort, env.trace, env.seed as AssemblyScript implements them for JavaScript) and
// calls `_start` when the guest exports one. This runner only
//
// - passes node's WASI preview1 as `wasi_snapshot_preview1` when the guest imports it (the
//   wasi-shim's guests), with no arguments or environment; `proc_exit` exits node with the
//   guest's code. The bindings call `_start` themselves, before node's WASI has the guest's
//   memory, so the instantiation is wrapped to hand the memory over first (`initialize` with the
//   memory alone: node 20 has no other way);
// - calls EXPORT (no arguments) when given, as a test calls an export;
// - maps the outcome to an exit code: 0 when everything returned; an exception escaping (abort's
//   `Error`, a trap's `RuntimeError`, anything else) is printed as `String(error)` — its first
//   line, without node's stack trace — on stderr and exits 1, as node exits for an uncaught one.
//
// The bindings are imported from a data: URL so that any node version reads them as an ES module
// whatever the package.json around (they import nothing themselves).
import { readFile } from "node:fs/promises";

const [wasmPath, exportName] = process.argv.slice(2);
try {
  const module = await WebAssembly.compile(await readFile(wasmPath));
  const glue = await readFile(wasmPath.replace(/\.wasm$/, ".js"));
  const { instantiate } = await import(
    "data:text/javascript;base64," + glue.toString("base64")
  );
  const imports = {};
  if (WebAssembly.Module.imports(module).some((i) => i.module === "wasi_snapshot_preview1")) {
    const { WASI } = await import("node:wasi");
    const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: false });
    imports.wasi_snapshot_preview1 = wasi.wasiImport;
    const instantiateWasm = WebAssembly.instantiate;
    WebAssembly.instantiate = async (...args) => {
      const result = await instantiateWasm(...args);
      const instance = result.instance ?? result;
      wasi.initialize({ exports: { memory: instance.exports.memory } });
      return result;
    };
  }
  const exports = await instantiate(module, imports);
  if (exportName !== undefined) exports[exportName]();
} catch (error) {
  process.stderr.write(String(error) + "\n");
  process.exitCode = 1;
}
