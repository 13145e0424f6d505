// Runs a GOOS=js GOARCH=wasm program under node with the wasm_exec.js of the Go release that
// built it, as that release's wasm_exec_node.js does — the reference keel-gojs's tests compare
// with. Go 1.19's wasm_exec_node.js assigns globalThis.crypto, which node 20 makes read-only,
// so this defines what it needs itself.
//
// usage: node node_run.js WASM_EXEC_JS FILE.wasm [ARGS...]
"use strict";

const [wasmExec, file, ...args] = process.argv.slice(2);
const nodeCrypto = require("crypto");
Object.defineProperty(globalThis, "crypto", {
  value: { getRandomValues: (b) => nodeCrypto.randomFillSync(b) },
  configurable: true,
});
globalThis.require = require;
globalThis.fs = require("fs");
globalThis.TextEncoder = require("util").TextEncoder;
globalThis.TextDecoder = require("util").TextDecoder;
globalThis.performance ??= require("perf_hooks").performance;
require(wasmExec);

const go = new Go();
go.argv = [file, ...args];
go.env = Object.assign({}, process.env);
go.exit = process.exit;
WebAssembly.instantiate(require("fs").readFileSync(file), go.importObject)
  .then((result) => {
    process.on("exit", (code) => {
      if (code === 0 && !go.exited) {
        // node's event loop is empty and Go has not exited: a deadlock, which Go reports.
        go._pendingEvent = { id: 0 };
        go._resume();
      }
    });
    return go.run(result.instance);
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
