//! The file systems at the Rust level: the same behaviour from DirFs and MemFs, confinement, and
//! read-only mounts.

use std::io::SeekFrom;
use std::sync::Arc;

use keel_sys::{DirFs, Errno, FileType, Fs, MemFs, OpenOptions, ReadOnlyFs, SetTime};

fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("keel-sys-{test}-")).tempdir().unwrap()
}

/// A file system and what the test calls it.
type Named = (&'static str, Arc<dyn Fs>);

/// A host directory `root` with `secret.txt` beside it, and a MemFs; both get the same tree. The
/// host directory goes with the returned `TempDir`.
fn both(test: &str) -> (tempfile::TempDir, Vec<Named>) {
    let tmp = scratch(test);
    let top = tmp.path();
    std::fs::create_dir(top.join("root")).unwrap();
    std::fs::write(top.join("secret.txt"), "SECRET").unwrap();
    let list = vec![
        ("host", Arc::new(DirFs::open(top.join("root")).unwrap()) as Arc<dyn Fs>),
        ("memory", Arc::new(MemFs::new())),
    ];
    (tmp, list)
}

const RW: OpenOptions = OpenOptions {
    read: true,
    write: true,
    create: true,
    exclusive: false,
    truncate: false,
    append: false,
    follow: true,
};
const RO: OpenOptions = OpenOptions {
    read: true,
    write: false,
    create: false,
    exclusive: false,
    truncate: false,
    append: false,
    follow: true,
};

fn read_all(fs: &dyn Fs, path: &str) -> Result<String, Errno> {
    let mut f = fs.open(path, &RO)?;
    let mut buf = vec![0; 256];
    let n = f.read(&mut buf)?;
    Ok(String::from_utf8(buf[..n].to_vec()).unwrap())
}

#[test]
fn files_directories_and_links_behave_alike() {
    let (_tmp, file_systems) = both("alike");
    for (what, fs) in file_systems {
        fs.mkdir("d").unwrap();
        assert_eq!(fs.mkdir("d"), Err(Errno::EEXIST), "{what}");
        let mut f = fs.open("d/f", &RW).unwrap();
        assert_eq!(f.write(b"hello world").unwrap(), 11);
        assert_eq!(f.seek(SeekFrom::Start(6)).unwrap(), 6);
        let mut buf = [0; 5];
        assert_eq!(f.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf, b"world");
        assert_eq!(f.pwrite(b"HELLO", 0).unwrap(), 5);
        assert_eq!(f.pread(&mut buf, 0).unwrap(), 5);
        assert_eq!(&buf, b"HELLO");
        f.set_size(5).unwrap();
        assert_eq!(f.stat().unwrap().size, 5, "{what}");
        f.set_times(SetTime::At(1_000_000_000_000_000_000), SetTime::Omit).unwrap();
        assert_eq!(f.stat().unwrap().atim, 1_000_000_000_000_000_000, "{what}");
        drop(f);
        let st = fs.stat("d/f", true).unwrap();
        assert_eq!((st.filetype, st.size, st.nlink), (FileType::RegularFile, 5, 1), "{what}");
        assert_eq!(fs.stat("d", true).unwrap().filetype, FileType::Directory);
        assert_eq!(fs.stat("d/missing", true), Err(Errno::ENOENT), "{what}");
        assert_eq!(fs.stat("d/f/x", true), Err(Errno::ENOTDIR), "{what}");
        assert_eq!(fs.open("d", &RO).err(), Some(Errno::EISDIR), "{what}");
        assert_eq!(fs.open("d", &RW).err(), Some(Errno::EISDIR), "{what}: for writing");
        let append = OpenOptions { write: false, append: true, ..RW };
        assert_eq!(fs.open("d", &append).err(), Some(Errno::EISDIR), "{what}: for appending");
        assert!(fs.open("d/new/", &RW).is_err(), "{what}: a file name with a trailing slash");
        assert_eq!(fs.stat("d/f/", true), Err(Errno::ENOTDIR), "{what}");

        fs.symlink("f", "d/s").unwrap();
        assert_eq!(fs.readlink("d/s").unwrap(), "f");
        assert_eq!(fs.stat("d/s", false).unwrap().filetype, FileType::SymbolicLink, "{what}");
        assert_eq!(read_all(&*fs, "d/s").unwrap(), "HELLO");
        let nofollow = OpenOptions { follow: false, ..RO };
        assert_eq!(fs.open("d/s", &nofollow).err(), Some(Errno::ELOOP), "{what}");
        fs.link("d/f", "d/h").unwrap();
        assert_eq!(fs.stat("d/f", true).unwrap().nlink, 2, "{what}");
        fs.rename("d/h", "d/g").unwrap();
        assert_eq!(read_all(&*fs, "d/g").unwrap(), "HELLO");
        let names: Vec<String> = fs.read_dir("d").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["f", "g", "s"], "{what}");
        assert_eq!(fs.rmdir("d"), Err(Errno::ENOTEMPTY), "{what}");
        assert_eq!(fs.unlink("d"), Err(Errno::EISDIR), "{what}");
        for n in ["d/f", "d/g", "d/s"] {
            fs.unlink(n).unwrap();
        }
        fs.rmdir("d").unwrap();
        assert_eq!(fs.read_dir("").unwrap(), vec![], "{what}");
    }
}

#[test]
fn no_path_leads_outside() {
    let (_tmp, file_systems) = both("confined");
    for (what, fs) in file_systems {
        fs.mkdir("sub").unwrap();
        fs.symlink("../secret.txt", "out").unwrap();
        fs.symlink("..", "up").unwrap();
        fs.symlink("a", "b").unwrap();
        fs.symlink("b", "a").unwrap();
        for path in ["../secret.txt", "sub/../../secret.txt", "/etc/passwd", "out", "up/secret.txt"]
        {
            assert_eq!(fs.open(path, &RO).err(), Some(Errno::ENOTCAPABLE), "{what} {path}");
            assert_eq!(fs.stat(path, true), Err(Errno::ENOTCAPABLE), "{what} {path}");
        }
        assert_eq!(fs.open("a", &RO).err(), Some(Errno::ELOOP), "{what}");
        assert_eq!(fs.open("up/planted", &RW).err(), Some(Errno::ENOTCAPABLE), "{what}");
        assert_eq!(fs.mkdir("../planted"), Err(Errno::ENOTCAPABLE), "{what}");
        assert_eq!(fs.rename("sub", "../moved"), Err(Errno::ENOTCAPABLE), "{what}");
        assert_eq!(fs.link("../secret.txt", "stolen"), Err(Errno::ENOTCAPABLE), "{what}");
        assert_eq!(fs.read_dir("up").err(), Some(Errno::ENOTCAPABLE), "{what}");
        // A directory swapped for a link out between two calls.
        fs.mkdir("swap").unwrap();
        fs.open("swap/x", &RW).unwrap();
        fs.rename("swap", "swapped").unwrap();
        fs.symlink("..", "swap").unwrap();
        assert_eq!(fs.open("swap/secret.txt", &RO).err(), Some(Errno::ENOTCAPABLE), "{what}");
    }
}

#[test]
fn read_only_refuses_every_change() {
    let mem = MemFs::new();
    mem.add_file("dir/f", "data").unwrap();
    let fs = ReadOnlyFs(Arc::new(mem));
    assert_eq!(read_all(&fs, "dir/f").unwrap(), "data");
    for o in [
        OpenOptions { write: true, ..RO },
        OpenOptions { append: true, ..RO },
        OpenOptions { truncate: true, ..RO },
        OpenOptions { create: true, ..RO },
    ] {
        assert_eq!(fs.open("dir/f", &o).err(), Some(Errno::EROFS));
    }
    assert_eq!(fs.mkdir("x"), Err(Errno::EROFS));
    assert_eq!(fs.rmdir("dir"), Err(Errno::EROFS));
    assert_eq!(fs.unlink("dir/f"), Err(Errno::EROFS));
    assert_eq!(fs.rename("dir/f", "g"), Err(Errno::EROFS));
    assert_eq!(fs.link("dir/f", "g"), Err(Errno::EROFS));
    assert_eq!(fs.symlink("f", "g"), Err(Errno::EROFS));
    assert_eq!(fs.set_times("dir/f", SetTime::Now, SetTime::Now, true), Err(Errno::EROFS));
    let mut f = fs.open("dir/f", &RO).unwrap();
    assert_eq!(f.write(b"x"), Err(Errno::EBADF));
    assert_eq!(f.set_size(0), Err(Errno::EROFS));
    assert_eq!(f.set_times(SetTime::Now, SetTime::Omit), Err(Errno::EROFS));
}

#[test]
fn append_mode_writes_at_the_end() {
    let (_tmp, file_systems) = both("append");
    for (what, fs) in file_systems {
        fs.open("f", &RW).unwrap().write(b"abc").unwrap();
        let mut f = fs.open("f", &OpenOptions { append: true, write: true, ..RO }).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write(b"def").unwrap();
        assert!(f.is_append());
        f.set_append(false).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write(b"X").unwrap();
        drop(f);
        assert_eq!(read_all(&*fs, "f").unwrap(), "Xbcdef", "{what}");
    }
}

#[test]
fn modes_are_kept_without_setuid_and_only_inside() {
    let (tmp, file_systems) = both("modes");
    let secret = tmp.path().join("secret.txt");
    let secret_mode = || {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o7777
    };
    let before = secret_mode();
    for (what, fs) in file_systems {
        fs.mkdir("d").unwrap();
        fs.open("d/f", &RW).unwrap();
        fs.symlink("f", "d/s").unwrap();
        fs.symlink("../../secret.txt", "d/out").unwrap();
        // (path chmod is given, mode given, path then read, its mode or the error)
        let rows: &[(&str, u32, &str, Result<u32, Errno>)] = &[
            ("d/f", 0o456, "d/f", Ok(0o456)),
            ("d/f", 0o123, "d/f", Ok(0o123)),
            ("d/f", 0o4755, "d/f", Ok(0o755)),   // never setuid
            ("d/f", 0o2755, "d/f", Ok(0o755)),   // nor setgid
            ("d/f", 0o100644, "d/f", Ok(0o644)), // type bits are not modes
            ("d", 0o1700, "d", Ok(0o1700)),      // sticky directories are fine
            ("d", 0o755, "d", Ok(0o755)),
            ("d/s", 0o600, "d/f", Ok(0o600)), // through a link, to its target
            ("d/missing", 0o600, "d/missing", Err(Errno::ENOENT)),
            ("../secret.txt", 0o777, "../secret.txt", Err(Errno::ENOTCAPABLE)),
            ("d/out", 0o777, "d/out", Err(Errno::ENOTCAPABLE)),
        ];
        for &(path, mode, read, want) in rows {
            let got =
                fs.chmod(path, mode).and_then(|()| fs.stat_attrs(read, true).map(|m| m.1.mode));
            assert_eq!(got, want, "{what}: chmod {path} {mode:o}");
        }
        let (st, link) = fs.stat_attrs("d/s", false).unwrap();
        assert_eq!((st.filetype, link.mode), (FileType::SymbolicLink, 0o777), "{what}");
        // fchmod: through an open file.
        let mut f = fs.open("d/f", &RO).unwrap();
        f.chmod(0o6640).unwrap();
        assert_eq!(f.stat_attrs().unwrap().1.mode, 0o640, "{what}");
        assert_eq!(fs.stat_attrs("d/f", true).unwrap().1.mode, 0o640, "{what}");
        // stat and stat_attrs agree.
        assert_eq!(fs.stat_attrs("d/f", true).unwrap().0, fs.stat("d/f", true).unwrap(), "{what}");
        assert_eq!(secret_mode(), before, "{what}: the file outside is untouched");
    }
    // What MemFs creates, and a read-only view.
    let mem = MemFs::new();
    mem.add_file("dir/f", "data").unwrap();
    mem.symlink("f", "dir/s").unwrap();
    for (path, follow, want) in
        [("dir", true, 0o755), ("dir/f", true, 0o644), ("dir/s", false, 0o777)]
    {
        assert_eq!(mem.stat_attrs(path, follow).unwrap().1.mode, want, "memory: {path}");
    }
    let ro = ReadOnlyFs(Arc::new(mem));
    assert_eq!(ro.stat_attrs("dir/f", true).unwrap().1.mode, 0o644);
    assert_eq!(ro.chmod("dir/f", 0o600), Err(Errno::EROFS));
    assert_eq!(ro.open("dir/f", &RO).unwrap().chmod(0o600), Err(Errno::EROFS));
    assert_eq!(ro.stat_attrs("dir/f", true).unwrap().1.mode, 0o644);
}

#[test]
fn owners_are_kept_and_only_inside() {
    use std::os::unix::fs::MetadataExt;
    let (tmp, file_systems) = both("owners");
    let secret = tmp.path().join("secret.txt");
    let host_owner = |p: &std::path::Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    let before = host_owner(&secret);
    // Host files this process creates are the guest's own: uid and gid 0 to the guest. Only a
    // root process may give a host file to another user.
    let root = before.0 == 0;
    for (what, fs) in file_systems {
        let owners =
            |path: &str, follow: bool| fs.stat_attrs(path, follow).map(|(_, a)| (a.uid, a.gid));
        fs.mkdir("d").unwrap();
        fs.open("d/f", &RW).unwrap();
        fs.symlink("f", "d/s").unwrap();
        fs.symlink("../../secret.txt", "d/out").unwrap();
        assert_eq!(owners("d/f", true), Ok((0, 0)), "{what}: created by the guest");
        assert_eq!(owners("", true), Ok((0, 0)), "{what}: the root");
        // To oneself, or only the group: allowed everywhere.
        assert_eq!(fs.chown("d/f", Some(0), Some(0), true), Ok(()), "{what}");
        assert_eq!(fs.chown("d/f", None, Some(0), true), Ok(()), "{what}");
        assert_eq!(fs.chown("d/s", Some(0), None, false), Ok(()), "{what}");
        assert_eq!(fs.chown("", Some(0), Some(0), true), Ok(()), "{what}");
        // To someone else: a guest on MemFs is root of it; on a host directory, the host says.
        let other = fs.chown("d/f", Some(1234), Some(4321), true);
        if what == "memory" || root {
            assert_eq!(other, Ok(()), "{what}");
            assert_eq!(owners("d/f", true), Ok((1234, 4321)), "{what}");
            assert_eq!(owners("d/s", true), Ok((1234, 4321)), "{what}: through the link");
            assert_eq!(owners("d/s", false), Ok((0, 0)), "{what}: the link itself");
            // lchown: the link, not its target.
            fs.chown("d/s", Some(77), None, false).unwrap();
            assert_eq!(owners("d/s", false), Ok((77, 0)), "{what}");
            assert_eq!(owners("d/f", true), Ok((1234, 4321)), "{what}");
            // fchown: through an open file; None keeps one.
            let mut f = fs.open("d/f", &RO).unwrap();
            f.chown(None, Some(5)).unwrap();
            assert_eq!(f.stat_attrs().map(|(_, a)| (a.uid, a.gid)), Ok((1234, 5)), "{what}");
            f.chown(Some(0), Some(0)).unwrap();
            assert_eq!(owners("d/f", true), Ok((0, 0)), "{what}");
        } else {
            assert_eq!(other, Err(Errno::EPERM), "{what}");
            assert_eq!(owners("d/f", true), Ok((0, 0)), "{what}");
        }
        for (path, follow, want) in [
            ("d/missing", true, Errno::ENOENT),
            ("../secret.txt", true, Errno::ENOTCAPABLE),
            ("d/out", true, Errno::ENOTCAPABLE),
        ] {
            assert_eq!(fs.chown(path, Some(0), Some(0), follow), Err(want), "{what}: {path}");
        }
        assert_eq!(fs.chown("d/f", Some(u32::MAX), None, true), Err(Errno::EINVAL), "{what}");
        assert_eq!(host_owner(&secret), before, "{what}: the file outside is untouched");
    }
    let mem = MemFs::new();
    mem.add_file("f", "data").unwrap();
    let ro = ReadOnlyFs(Arc::new(mem));
    assert_eq!(ro.chown("f", Some(0), Some(0), true), Err(Errno::EROFS));
    assert_eq!(ro.open("f", &RO).unwrap().chown(Some(0), None), Err(Errno::EROFS));
}
