//! Guest paths of import sets that have a current directory and see every mount in one tree
//! (Go's `fs`, Emscripten's syscalls), as opposed to WASI, whose paths are relative to a
//! directory descriptor. A path is made absolute from the current directory and cleaned
//! lexically (`..` stops at `/`), then lies in the mount with the longest matching prefix; no
//! mount there means nothing exists there.
//!
//! Symbolic links are guest paths too, and may lead from one mount into another: [`follow_links`]
//! walks a path through them at this level, so that each mount's file system only ever sees a
//! path with no link before its last component.

use crate::{Errno, FileType, Mount};

/// The most symbolic links one path may pass through before it is `ELOOP` (Linux's limit).
pub const MAX_LINKS: usize = 40;

/// `path` made absolute from `cwd`, cleaned.
pub fn absolute(cwd: &str, path: &str) -> String {
    if path.starts_with('/') { clean(path) } else { clean(&format!("{cwd}/{path}")) }
}

/// A guest path with `.`, `..` and repeated slashes resolved lexically; `..` stops at `/`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The mount an absolute, clean guest path lies in (the longest matching prefix), as an index
/// into `mounts`, and the path inside it (relative, no leading slash); `None` where nothing is
/// mounted.
pub fn mount_of(mounts: &[Mount], abs: &str) -> Option<(usize, String)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, m) in mounts.iter().enumerate() {
        let at = clean(&m.guest_path);
        let inside = at == "/" || abs == at || abs.starts_with(&format!("{at}/"));
        if inside && best.is_none_or(|(_, len)| at.len() > len) {
            best = Some((i, at.len()));
        }
    }
    let (mount, len) = best?;
    let inner = if len == 1 { &abs[1..] } else { &abs[len.min(abs.len())..] };
    Some((mount, inner.trim_start_matches('/').to_string()))
}

/// The absolute, clean guest path `abs` with every symbolic link on its way followed, across
/// mounts: a link's target is a guest path, absolute (from `/`) or relative to the link's
/// directory. The last component is followed only when `follow_last`. A step that finds
/// nothing, or fails, ends the walk there: the rest is left to the mount's file system, which
/// reports what is wrong with it. More than [`MAX_LINKS`] links is `ELOOP`.
pub fn follow_links(mounts: &[Mount], abs: &str, follow_last: bool) -> Result<String, Errno> {
    let mut path = clean(abs);
    let mut links = 0;
    'walk: loop {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        // The part of `path` walked so far, link-free ("" for `/`).
        let mut at = String::new();
        for (i, name) in parts.iter().enumerate() {
            if i + 1 == parts.len() && !follow_last {
                break;
            }
            let next = format!("{at}/{name}");
            let Some((mount, inner)) = mount_of(mounts, &next) else { break };
            let fs = &mounts[mount].fs;
            match fs.stat(&inner, false) {
                Ok(st) if st.filetype == FileType::SymbolicLink => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::ELOOP);
                    }
                    let Ok(target) = fs.readlink(&inner) else { break };
                    let rest = parts[i + 1..].join("/");
                    let from = if target.starts_with('/') { String::new() } else { at };
                    path = clean(&format!("{from}/{target}/{rest}"));
                    continue 'walk;
                }
                Ok(_) => {}
                // A directory on the way to a mount, which no file system holds.
                Err(_) if leads_to_mount(mounts, &next) => {}
                Err(_) => break,
            }
            at = next;
        }
        return Ok(path);
    }
}

/// The path from the directory of the guest path `link` to the guest path `target` (both
/// absolute and clean): what a link at `link` holds to lead to `target` from wherever its
/// directory is mounted.
pub fn relative(link: &str, target: &str) -> String {
    let from: Vec<&str> = link.split('/').filter(|c| !c.is_empty()).collect();
    let from = &from[..from.len().saturating_sub(1)];
    let to: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() { ".".into() } else { parts.join("/") }
}

/// Whether the absolute, clean guest path `abs` lies above a mount's guest path (`/` and `/tmp`
/// of a mount at `/tmp/data`): the guest sees such a path as a directory on the way to the
/// mount, as a mount point needs one, even where no mounted file system holds it.
pub fn leads_to_mount(mounts: &[Mount], abs: &str) -> bool {
    let above = if abs == "/" { "/".to_string() } else { format!("{abs}/") };
    mounts.iter().any(|m| {
        let at = clean(&m.guest_path);
        at != abs && at.starts_with(&above)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFs;
    use std::sync::Arc;

    #[test]
    fn paths_resolve_lexically() {
        for (cwd, path, want) in [
            ("/", "a/b", "/a/b"),
            ("/x", "../y", "/y"),
            ("/", "../../etc", "/etc"),
            ("/a", "/b/./c//d/..", "/b/c"),
            ("/a/b", ".", "/a/b"),
            ("/", "", "/"),
        ] {
            assert_eq!(absolute(cwd, path), want, "{cwd} {path}");
        }
    }

    #[test]
    fn the_longest_mount_prefix_wins() {
        let mount = |at: &str| Mount { guest_path: at.to_string(), fs: Arc::new(MemFs::new()) };
        let mounts = [mount("/"), mount("/data"), mount("/data/sub/")];
        for (abs, want) in [
            ("/", Some((0, ""))),
            ("/etc/x", Some((0, "etc/x"))),
            ("/data", Some((1, ""))),
            ("/database", Some((0, "database"))),
            ("/data/a/b", Some((1, "a/b"))),
            ("/data/sub/f", Some((2, "f"))),
        ] {
            let got = mount_of(&mounts, abs);
            assert_eq!(got.as_ref().map(|(m, p)| (*m, p.as_str())), want, "{abs}");
        }
        assert_eq!(mount_of(&mounts[1..], "/etc"), None);
    }

    #[test]
    fn paths_above_a_mount_lead_to_it() {
        let mount = |at: &str| Mount { guest_path: at.to_string(), fs: Arc::new(MemFs::new()) };
        let mounts = [mount("/tmp/data/"), mount("/x")];
        for (abs, want) in [
            ("/", true),
            ("/tmp", true),
            ("/tmp/data", false), // the mount itself: its file system answers
            ("/tmp/data/f", false),
            ("/tm", false),
            ("/tmp/dat", false),
            ("/y", false),
        ] {
            assert_eq!(leads_to_mount(&mounts, abs), want, "{abs}");
        }
        assert!(!leads_to_mount(&[mount("/")], "/"));
    }

    #[test]
    fn links_lead_across_mounts() {
        use crate::Fs;
        let (root, data, other) = (MemFs::new(), MemFs::new(), MemFs::new());
        root.add_file("etc/conf", "").unwrap();
        data.add_file("sub/f", "").unwrap();
        other.add_file("g", "").unwrap();
        root.symlink("/data/sub", "to-sub").unwrap();
        root.symlink("data/sub/f", "rel-f").unwrap(); // relative, into a mount below
        data.symlink("/other", "sub/abs-other").unwrap();
        data.symlink("../other/g", "rel-g").unwrap(); // relative, up out of /data
        data.symlink("../../../../etc", "up").unwrap(); // `..` stops at `/`
        data.symlink("sub/f", "in").unwrap(); // stays inside its mount
        data.symlink("loop2", "loop1").unwrap();
        data.symlink("loop1", "loop2").unwrap();
        data.symlink("/nowhere/x", "dangling").unwrap();
        let mounts = [
            Mount { guest_path: "/".into(), fs: Arc::new(root) },
            Mount { guest_path: "/data".into(), fs: Arc::new(data) },
            Mount { guest_path: "/other".into(), fs: Arc::new(other) },
        ];
        for (abs, follow_last, want) in [
            ("/to-sub/f", true, Ok("/data/sub/f")),
            ("/to-sub", true, Ok("/data/sub")),
            ("/to-sub", false, Ok("/to-sub")),
            ("/rel-f", true, Ok("/data/sub/f")),
            ("/data/sub/abs-other/g", false, Ok("/other/g")),
            ("/to-sub/abs-other/g", true, Ok("/other/g")),
            ("/data/rel-g", true, Ok("/other/g")),
            ("/data/rel-g", false, Ok("/data/rel-g")),
            ("/data/up/conf", true, Ok("/etc/conf")),
            ("/data/in", true, Ok("/data/sub/f")),
            ("/data/missing/x", true, Ok("/data/missing/x")),
            ("/data/dangling", true, Ok("/nowhere/x")),
            ("/data/loop1", true, Err(Errno::ELOOP)),
            ("/data/loop1", false, Ok("/data/loop1")),
        ] {
            assert_eq!(
                follow_links(&mounts, abs, follow_last).as_deref().map_err(|e| *e),
                want,
                "{abs}"
            );
        }
    }

    #[test]
    fn relative_targets() {
        for (link, target, want) in [
            ("/a/b/l", "/a/t", "../t"),
            ("/a/l", "/a/t", "t"),
            ("/data/l", "/other/g", "../other/g"),
            ("/l", "/x/y", "x/y"),
            ("/a/l", "/a", "."),
        ] {
            assert_eq!(relative(link, target), want, "{link} -> {target}");
        }
    }
}
