// Built with @assemblyscript/wasi-shim: console.log and process.stderr go through WASI's
// fd_write and process.exit through proc_exit, so the module imports wasi_snapshot_preview1 only.
console.log("hello from AssemblyScript");
process.stderr.write("to stderr\n");
const words = ["one", "two", "three"];
console.log(words.join(", ") + " (" + words.length.toString() + ")");
process.exit(3);
