// Test guest of keel-gojs: one program, a scenario per first argument, so that the committed
// binaries stay two (one per Go release). Its output must be the same under keel and under node
// with the Go release's wasm_exec.js: nothing here prints a time, a random value or a host path
// beyond the directory it is given.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"syscall/js"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: scenarios NAME [ARGS...]")
		os.Exit(64)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello, world")
	case "args":
		fmt.Println("args:", strings.Join(os.Args[1:], "|"))
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			if strings.HasPrefix(kv, "GUEST_") {
				fmt.Println("env:", kv)
			}
		}
		fmt.Printf("lookup: %q\n", os.Getenv("GUEST_B"))
	case "exit":
		var code int
		fmt.Sscan(args[0], &code)
		fmt.Println("exiting with", code)
		os.Exit(code)
	case "panic":
		fmt.Println("about to panic")
		panic("boom")
	case "stdin":
		data, err := io.ReadAll(os.Stdin)
		check(err)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Printf("%d bytes, %d lines, first %q\n", len(data), len(lines), lines[0])
	case "files":
		files(args[0])
	case "readonly":
		readonly(args[0])
	case "outside":
		for _, p := range []string{"/etc/passwd", "../../../../etc/passwd", "/proc/self/environ"} {
			_, err := os.ReadFile(p)
			fmt.Printf("read %s: not exist=%v\n", p, errors.Is(err, fs.ErrNotExist))
		}
	case "sleep":
		timers()
	case "goroutines":
		goroutines()
	case "deadlock":
		fmt.Println("waiting forever")
		c := make(chan int)
		<-c
	case "rand":
		b := make([]byte, 32)
		n, err := rand.Read(b)
		check(err)
		zero := 0
		for _, x := range b {
			if x == 0 {
				zero++
			}
		}
		fmt.Println("random bytes:", n, "all zero:", zero == len(b))
	case "json":
		type Point struct {
			X, Y int
			Tags []string `json:"tags,omitempty"`
		}
		out, err := json.Marshal([]Point{{1, 2, nil}, {3, 4, []string{"a", "b"}}})
		check(err)
		fmt.Println(string(out))
		var back []Point
		check(json.Unmarshal(out, &back))
		fmt.Printf("%+v\n", back)
	case "deepjson":
		// encoding/json's nesting limit: about 10 000 Wasm frames deep.
		const depth = 10000
		var v any
		check(json.Unmarshal([]byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)), &v))
		n := 1
		for a := v.([]any); len(a) > 0; a = a[0].([]any) {
			n++
		}
		fmt.Println("nested arrays:", n)
		err := json.Unmarshal([]byte(strings.Repeat("[", depth+1)+strings.Repeat("]", depth+1)), &v)
		fmt.Println("one more:", err)
	case "modes":
		modes(args[0])
	case "abslinks":
		abslinks(args[0])
	case "crossmount":
		crossmount(args[0], args[1])
	case "owners":
		owners(args[0], len(args) > 1 && args[1] == "giveaway")
	case "funcof":
		funcof()
	case "forever":
		fmt.Println("running forever:", args[0])
		if args[0] == "sleep" {
			for {
				time.Sleep(time.Hour)
			}
		}
		n := 0
		for {
			n++
		}
	case "smallfiles":
		// The host-call-heavy bench row: many small writes and reads.
		var count int
		fmt.Sscan(args[1], &count)
		check(os.Chdir(args[0]))
		total := 0
		for i := 0; i < count; i++ {
			name := fmt.Sprintf("f%d", i%100)
			check(os.WriteFile(name, []byte("some small content"), 0o644))
			data, err := os.ReadFile(name)
			check(err)
			total += len(data)
		}
		fmt.Println("bytes read:", total)
	case "jsmissing":
		fmt.Println("reading a missing property")
		doc := js.Global().Get("document")
		fmt.Println("document is undefined:", doc.IsUndefined())
		doc.Call("getElementById", "x")
	default:
		fmt.Println("unknown scenario", os.Args[1])
		os.Exit(64)
	}
}

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func files(dir string) {
	check(os.Chdir(dir))
	wd, err := os.Getwd()
	check(err)
	fmt.Println("cwd is the directory:", wd == dir)

	check(os.WriteFile("a.txt", []byte("hello\n"), 0o644))
	f, err := os.OpenFile("a.txt", os.O_APPEND|os.O_WRONLY, 0)
	check(err)
	_, err = f.WriteString("appended\n")
	check(err)
	check(f.Close())
	data, err := os.ReadFile("a.txt")
	check(err)
	fmt.Printf("a.txt: %q\n", data)

	// Seek and read a part back.
	f, err = os.Open("a.txt")
	check(err)
	_, err = f.Seek(6, io.SeekStart)
	check(err)
	part := make([]byte, 8)
	_, err = io.ReadFull(f, part)
	check(err)
	check(f.Close())
	fmt.Printf("from 6: %q\n", part)

	check(os.MkdirAll("deep/er/est", 0o755))
	for i := 0; i < 1000; i++ {
		check(os.WriteFile(filepath.Join("deep", fmt.Sprintf("f%04d", i)), nil, 0o644))
	}
	entries, err := os.ReadDir("deep")
	check(err)
	fmt.Println("deep has", len(entries), "entries, first", entries[0].Name(), "last", entries[len(entries)-1].Name())

	check(os.Rename("a.txt", "deep/er/b.txt"))
	_, err = os.Stat("a.txt")
	fmt.Println("a.txt after rename: not exist =", errors.Is(err, fs.ErrNotExist))
	st, err := os.Stat("deep/er/b.txt")
	check(err)
	fmt.Println("b.txt:", st.Size(), "bytes, regular:", st.Mode().IsRegular(), "dir:", st.IsDir())

	when := time.Date(2020, 5, 17, 12, 0, 0, 0, time.UTC)
	check(os.Chtimes("deep/er/b.txt", when, when))
	st, err = os.Stat("deep/er/b.txt")
	check(err)
	fmt.Println("mtime:", st.ModTime().UTC().Format(time.RFC3339))

	check(os.Chmod("deep/er/b.txt", 0o600))
	check(os.Truncate("deep/er/b.txt", 3))
	data, err = os.ReadFile("deep/er/b.txt")
	check(err)
	fmt.Printf("truncated: %q\n", data)

	check(os.Symlink("er/b.txt", "deep/link"))
	target, err := os.Readlink("deep/link")
	check(err)
	fmt.Println("link ->", target)
	data, err = os.ReadFile("deep/link")
	check(err)
	fmt.Printf("through the link: %q\n", data)
	lst, err := os.Lstat("deep/link")
	check(err)
	fmt.Println("lstat is a symlink:", lst.Mode()&fs.ModeSymlink != 0)

	_, err = os.ReadFile("missing")
	fmt.Println("missing: not exist =", errors.Is(err, fs.ErrNotExist))
	err = os.Mkdir("deep", 0o755)
	fmt.Println("mkdir existing: exist =", errors.Is(err, fs.ErrExist))
	err = os.Remove("deep")
	fmt.Println("remove non-empty dir fails:", err != nil)

	check(os.RemoveAll("deep"))
	_, err = os.Stat("deep")
	fmt.Println("after RemoveAll: not exist =", errors.Is(err, fs.ErrNotExist))
}

// modes: permission bits as node keeps them on the host (keel: DirFs and MemFs), under a
// umask of the guest's.
func modes(dir string) {
	check(os.MkdirAll(dir, 0o755))
	check(os.Chdir(dir))
	syscall.Umask(0o027)
	show := func(what, name string, stat func(string) (fs.FileInfo, error)) {
		st, err := stat(name)
		check(err)
		fmt.Printf("%s: %v\n", what, st.Mode())
	}
	check(os.WriteFile("f", nil, 0o666))
	show("created 0666 under umask 027", "f", os.Stat)
	check(os.WriteFile("f", []byte("x"), 0o600))
	show("written again with 0600", "f", os.Stat)
	check(os.Chmod("f", 0o456))
	show("chmod 0456", "f", os.Stat)
	f, err := os.Open("f")
	check(err)
	check(f.Chmod(0o123))
	st, err := f.Stat()
	check(err)
	fmt.Printf("fchmod 0123, fstat: %v\n", st.Mode())
	check(f.Close())
	check(os.Chmod("f", 0o644))
	check(os.Mkdir("d", 0o777))
	show("mkdir 0777 under umask 027", "d", os.Stat)
	check(os.Mkdir("sticky", os.ModeSticky|0o755))
	show("mkdir sticky 0755", "sticky", os.Stat)
	d, err := os.Open("d")
	check(err)
	check(d.Chmod(0o700))
	check(d.Close())
	show("fchmod of a directory 0700", "d", os.Stat)
	check(os.Symlink("f", "l"))
	show("lstat of a link", "l", os.Lstat)
	check(os.Chmod("l", 0o600))
	show("chmod through the link, its target", "f", os.Stat)
	err = os.Chmod("missing", 0o600)
	fmt.Println("chmod of a missing file: not exist =", errors.Is(err, fs.ErrNotExist))
}

// abslinks: a link to an absolute path reads back as that path, and still leads there once
// moved.
func abslinks(dir string) {
	check(os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	target := filepath.Join(dir, "a", "t.txt")
	check(os.WriteFile(target, []byte("target"), 0o644))
	link := filepath.Join(dir, "a", "b", "abs")
	check(os.Symlink(target, link))
	got, err := os.Readlink(link)
	check(err)
	fmt.Println("readlink gives the absolute target:", got == target)
	data, err := os.ReadFile(link)
	check(err)
	fmt.Printf("through the link: %q\n", data)
	moved := filepath.Join(dir, "moved")
	check(os.Rename(link, moved))
	got, err = os.Readlink(moved)
	check(err)
	fmt.Println("moved, readlink still gives it:", got == target)
	data, err = os.ReadFile(moved)
	check(err)
	fmt.Printf("through the moved link: %q\n", data)
	check(os.Remove(moved))
	check(os.Symlink("t.txt", moved))
	got, err = os.Readlink(moved)
	check(err)
	fmt.Println("a relative link at the same place:", got)
	check(os.Chdir(dir))
	check(os.Symlink(dir, "self"))
	p, err := filepath.EvalSymlinks("self")
	check(err)
	want, err := filepath.EvalSymlinks(dir)
	check(err)
	fmt.Println("EvalSymlinks of a relative link to an absolute path:", p == want)
}

// crossmount: links from one directory into another, which keel mounts separately: absolute and
// relative, to a file and to a directory used on the way, and a loop between the two.
func crossmount(a, b string) {
	check(os.MkdirAll(filepath.Join(b, "sub"), 0o755))
	target := filepath.Join(b, "sub", "t.txt")
	check(os.WriteFile(target, []byte("in b"), 0o644))
	toFile := filepath.Join(a, "to-file")
	check(os.Symlink(target, toFile))
	data, err := os.ReadFile(toFile)
	check(err)
	fmt.Printf("through an absolute link into the other directory: %q\n", data)
	got, err := os.Readlink(toFile)
	check(err)
	fmt.Println("readlink gives the absolute target:", got == target)

	toDir := filepath.Join(a, "to-dir")
	check(os.Symlink(filepath.Join(b, "sub"), toDir))
	check(os.WriteFile(filepath.Join(toDir, "new.txt"), []byte("written from a"), 0o644))
	data, err = os.ReadFile(filepath.Join(b, "sub", "new.txt"))
	check(err)
	fmt.Printf("written through a link to a directory, read where it is: %q\n", data)
	st, err := os.Stat(toDir)
	check(err)
	lst, err := os.Lstat(toDir)
	check(err)
	fmt.Println("stat is a directory:", st.IsDir(), "lstat is a link:", lst.Mode()&fs.ModeSymlink != 0)
	entries, err := os.ReadDir(toDir)
	check(err)
	for _, e := range entries {
		fmt.Println("entry through the link:", e.Name())
	}

	rel := filepath.Join("..", filepath.Base(b), "sub", "t.txt")
	relLink := filepath.Join(a, "rel")
	check(os.Symlink(rel, relLink))
	data, err = os.ReadFile(relLink)
	check(err)
	fmt.Printf("through a relative link up and into the other directory: %q\n", data)
	got, err = os.Readlink(relLink)
	check(err)
	fmt.Println("readlink gives it as made:", got == rel)
	eval, err := filepath.EvalSymlinks(filepath.Join(toDir, "t.txt"))
	check(err)
	fmt.Println("EvalSymlinks leads to the other directory:", eval == target)

	check(os.Remove(toDir))
	_, err = os.Stat(filepath.Join(b, "sub", "new.txt"))
	fmt.Println("removing the link keeps the target:", err == nil)
	check(os.Symlink(filepath.Join(b, "loop2"), filepath.Join(a, "loop1")))
	check(os.Symlink(filepath.Join(a, "loop1"), filepath.Join(b, "loop2")))
	_, err = os.Stat(filepath.Join(a, "loop1"))
	fmt.Println("a loop between the two:", errors.Is(err, syscall.ELOOP))
}

// owners: files belong to the user the guest runs as, who may give them to itself and its groups
// (and, with giveaway, where the guest is root of the file system, to anyone).
func owners(dir string, giveaway bool) {
	check(os.MkdirAll(dir, 0o755))
	check(os.Chdir(dir))
	check(os.WriteFile("f", []byte("x"), 0o644))
	check(os.Symlink("f", "l"))
	uid, gid := os.Getuid(), os.Getgid()
	owner := func(name string, follow bool) (int, int) {
		stat := os.Stat
		if !follow {
			stat = os.Lstat
		}
		fi, err := stat(name)
		check(err)
		s := fi.Sys().(*syscall.Stat_t)
		return int(s.Uid), int(s.Gid)
	}
	u, g := owner("f", true)
	fmt.Println("a new file is the user's:", u == uid, g == gid)
	check(os.Chown("f", -1, gid))
	check(os.Chown("f", uid, -1))
	check(os.Lchown("l", uid, gid))
	f, err := os.Open("f")
	check(err)
	check(f.Chown(uid, gid))
	check(f.Close())
	groups, err := os.Getgroups()
	check(err)
	all := true
	for _, group := range groups {
		check(os.Chown("f", -1, group))
		_, g = owner("f", true)
		all = all && g == group
	}
	fmt.Println("chown to the user and its groups:", all)
	err = os.Chown("missing", uid, gid)
	fmt.Println("chown of a missing file:", errors.Is(err, fs.ErrNotExist))
	if giveaway {
		check(os.Chown("f", 1234, 4321))
		u, g = owner("f", true)
		fmt.Println("given away:", u, g)
		check(os.Lchown("l", 77, 88))
		u, g = owner("l", false)
		fmt.Println("the link given away:", u, g)
		u, g = owner("l", true)
		fmt.Println("its target still:", u, g)
	}
}

func readonly(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "ro.txt"))
	check(err)
	fmt.Printf("read: %q\n", data)
	err = os.WriteFile(filepath.Join(dir, "new.txt"), []byte("x"), 0o644)
	fmt.Println("write fails with a permission error:", errors.Is(err, fs.ErrPermission), err != nil)
	err = os.Remove(filepath.Join(dir, "ro.txt"))
	fmt.Println("remove fails:", err != nil)
}

func timers() {
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("slept at least 20ms:", time.Since(start) >= 20*time.Millisecond)

	timer := time.NewTimer(10 * time.Millisecond)
	<-timer.C
	fmt.Println("timer fired")

	ticker := time.NewTicker(5 * time.Millisecond)
	for i := 1; i <= 3; i++ {
		<-ticker.C
		fmt.Println("tick", i)
	}
	ticker.Stop()

	select {
	case <-time.After(15 * time.Millisecond):
		fmt.Println("timeout")
	case <-make(chan int):
		fmt.Println("impossible")
	}

	stopped := time.NewTimer(time.Hour)
	fmt.Println("stopped a timer:", stopped.Stop())

	order := make(chan string, 2)
	go func() { time.Sleep(30 * time.Millisecond); order <- "slow" }()
	go func() { time.Sleep(5 * time.Millisecond); order <- "fast" }()
	fmt.Println("order:", <-order, <-order)
}

func goroutines() {
	var wg sync.WaitGroup
	results := make(chan int, 10)
	for i := 1; i <= 10; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			results <- n * n
		}(i)
	}
	wg.Wait()
	close(results)
	sum := 0
	for r := range results {
		sum += r
	}
	fmt.Println("sum of squares:", sum)

	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 1000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	fmt.Println("ping-pong:", v)

	var mu sync.Mutex
	counter := 0
	var wg2 sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 100; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg2.Wait()
	fmt.Println("counter:", counter)

	r := bufio.NewReader(strings.NewReader("line one\nline two\n"))
	line, _ := r.ReadString('\n')
	fmt.Printf("bufio: %q\n", line)
}

func funcof() {
	add := js.FuncOf(func(this js.Value, args []js.Value) any {
		return args[0].Int() + args[1].Int()
	})
	defer add.Release()
	fmt.Println("add(2, 40) =", add.Invoke(2, 40).Int())

	obj := js.Global().Get("Object").New()
	obj.Set("name", "keel")
	obj.Set("n", 7)
	fmt.Println("object:", obj.Get("name").String(), obj.Get("n").Int(), obj.Get("nothing").IsUndefined())

	arr := js.ValueOf([]any{1, "two", true})
	fmt.Println("array length:", arr.Length(), "second:", arr.Index(1).String())

	// Many values created and dropped: their ids are reused.
	for i := 0; i < 20000; i++ {
		s := js.ValueOf(fmt.Sprintf("value %d", i))
		_ = s.String()
	}
	u8 := js.Global().Get("Uint8Array").New(4)
	n := js.CopyBytesToJS(u8, []byte{1, 2, 3, 4, 5})
	back := make([]byte, 4)
	js.CopyBytesToGo(back, u8)
	fmt.Println("copied", n, back)

	enc := js.Global().Get("TextEncoder").New()
	fmt.Println("encoded length:", enc.Call("encode", "héllo").Length())

	done := make(chan string)
	cb := js.FuncOf(func(this js.Value, args []js.Value) any {
		done <- "called back with " + args[0].String()
		return nil
	})
	go cb.Invoke("go")
	fmt.Println(<-done)
	cb.Release()

	off := js.Global().Get("Date").New().Call("getTimezoneOffset").Int()
	fmt.Println("timezone offset in range:", off >= -840 && off <= 720)
}
