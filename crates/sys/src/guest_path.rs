//! Guest paths of import sets that have a current directory and see every mount in one tree
//! (Go's `fs`, Emscripten's syscalls), as opposed to WASI, whose paths are relative to a
//! directory descriptor. A path is made absolute from the current directory and cleaned
//! lexically (`..` stops at `/`), then lies in the mount with the longest matching prefix; no
//! mount there means nothing exists there.

use crate::Mount;

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
}
