//! WASI as Emscripten's glue provides it: keel-wasi's functions, but `fd_seek` as emcc imports it
//! — with its i64 offset in two i32 halves where the glue cannot pass i64 (emcc without
//! `-sWASM_BIGINT`), and seeking directories as the glue's file system does, so that
//! `rewinddir`/`seekdir` (an lseek of the directory) move `__syscall_getdents64`'s listing.

use std::io::SeekFrom;

use keel::{Caller, CompiledModule, FuncType, HostModuleBuilder, Module, Runtime, Trap, ValType};
use keel_sys::{Errno, FdEntry};

use crate::mem::{memory, module, write_u64};
use crate::state;

/// `sizeof(struct dirent)` in Emscripten's libc: the glue counts a directory's position in these.
const DIRENT_SIZE: u64 = 280;

/// keel-wasi's functions for `compiled`, with `fd_seek` in the form the guest imports it and
/// Emscripten's semantics: what [`instantiate_wasi`] puts in the runtime. A guest that does not
/// import `fd_seek` gets keel-wasi's functions unchanged.
pub fn export_wasi_functions(
    builder: HostModuleBuilder,
    compiled: &CompiledModule,
) -> HostModuleBuilder {
    let builder = keel_wasi::FunctionExporter::new().export_functions(builder);
    let types = &compiled.description().types;
    let imported = compiled.imports().find_map(|(m, name, ty)| match ty {
        keel::decode::ImportType::Func(i) if m == keel_wasi::MODULE_NAME && name == "fd_seek" => {
            types.get(*i as usize).cloned()
        }
        _ => None,
    });
    let Some(ty) = imported else { return builder };
    let i32s = |n| vec![ValType::I32; n];
    let legalized = FuncType::new(i32s(5), [ValType::I32]);
    let wide =
        FuncType::new([ValType::I32, ValType::I64, ValType::I32, ValType::I32], [ValType::I32]);
    if ty == legalized {
        builder.func_raw("fd_seek", ty, |c, v| {
            let offset = (v[2] as u32 as u64) << 32 | v[1] as u32 as u64;
            fd_seek(c, v, v[0] as u32, offset as i64, v[3] as u32, v[4] as u32)
        })
    } else if ty == wide {
        builder.func_raw("fd_seek", ty, |c, v| {
            fd_seek(c, v, v[0] as u32, v[1] as i64, v[2] as u32, v[3] as u32)
        })
    } else {
        builder // another type: keel-wasi's fails to link, naming it
    }
}

/// Instantiates WASI for an Emscripten guest: [`export_wasi_functions`] under
/// `wasi_snapshot_preview1`.
pub fn instantiate_wasi(runtime: &Runtime, compiled: &CompiledModule) -> keel::Result<Module> {
    export_wasi_functions(runtime.host_module(keel_wasi::MODULE_NAME), compiled).instantiate()
}

/// `fd_seek(fd, offset, whence, newOffset) -> errno`.
fn fd_seek(
    caller: &mut Caller<'_>,
    v: &mut [u64],
    fd: u32,
    offset: i64,
    whence: u32,
    out: u32,
) -> Result<(), Trap> {
    let errno = match seek(caller, fd, offset, whence)? {
        Ok(position) => {
            write_u64(&memory(&module(caller, "fd_seek")?)?, out, position)?;
            0
        }
        Err(e) => e.0,
    };
    v[0] = errno as u64;
    Ok(())
}

fn seek(
    caller: &Caller<'_>,
    fd: u32,
    offset: i64,
    whence: u32,
) -> Result<Result<u64, Errno>, Trap> {
    let sys = caller.sys().ok_or_else(|| Trap::host("fd_seek called from outside a guest"))?;
    let pos = match whence {
        0 if offset < 0 => return Ok(Err(Errno::EINVAL)),
        0 => SeekFrom::Start(offset as u64),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Ok(Err(Errno::EINVAL)),
    };
    let mut st = sys.lock();
    let entry = match st.fds.get(fd) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    Ok(match entry {
        FdEntry::File(f) => f.file.seek(pos),
        FdEntry::Dir(_) => {
            drop(st);
            // The glue keeps a directory's position in bytes of dirents; getdents reads from
            // entry position / sizeof(dirent).
            let state = state::of(caller, "fd_seek")?;
            let mut state = state.lock();
            let next = state.dirs.get(&fd).map_or(0, |c| c.next as u64 * DIRENT_SIZE);
            let target = match pos {
                SeekFrom::Start(n) => Some(n),
                SeekFrom::Current(d) => next.checked_add_signed(d),
                SeekFrom::End(_) => None,
            };
            match target {
                None => Err(Errno::EINVAL),
                Some(t) => {
                    match state.dirs.get_mut(&fd) {
                        Some(cursor) => cursor.next = (t / DIRENT_SIZE) as usize,
                        // Not listed yet: position 0 is where a listing starts anyway.
                        None if t == 0 => {}
                        None => return Ok(Err(Errno::EINVAL)),
                    }
                    Ok(t)
                }
            }
        }
        _ => Err(Errno::ESPIPE),
    })
}
