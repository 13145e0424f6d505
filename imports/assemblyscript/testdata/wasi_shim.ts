// Built with @assemblyscript/wasi-shim: console.log goes through WASI's fd_write, so the module
// imports wasi_snapshot_preview1 only.
console.log("hello from AssemblyScript");
console.error("to stderr");
const words = ["one", "two", "three"];
console.log(words.join(", ") + " (" + words.length.toString() + ")");
