export async function instantiate(module, imports = {}) {
  const __module0 = imports.wasi_snapshot_preview1;
  const adaptedImports = {
    wasi_snapshot_preview1: Object.setPrototypeOf({
      fd_write(fd, iovs, iovs_len, nwritten) {
        // ~lib/bindings/wasi_snapshot_preview1/fd_write(u32, usize, usize, usize) => u16
        fd = fd >>> 0;
        iovs = iovs >>> 0;
        iovs_len = iovs_len >>> 0;
        nwritten = nwritten >>> 0;
        return __module0.fd_write(fd, iovs, iovs_len, nwritten);
      },
      proc_exit(rval) {
        // ~lib/bindings/wasi_snapshot_preview1/proc_exit(u32) => void
        rval = rval >>> 0;
        __module0.proc_exit(rval);
      },
    }, __module0),
  };
  const { exports } = await WebAssembly.instantiate(module, adaptedImports);
  exports._start();
  return exports;
}
