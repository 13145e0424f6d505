//! A Rust test guest (the standard library on wasm32-wasip1): arguments, environment, writing,
//! reading, renaming and listing files under the directory named by its first argument, a path
//! that tries to leave the mount, and an exit code. Built by `cargo xtask testdata`.

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[1];
    let greeting = std::env::var("GREETING").unwrap_or_default();
    let path = format!("{dir}/hello.txt");
    std::fs::write(&path, format!("{greeting} from Rust\n")).unwrap();
    let mut text = String::new();
    std::fs::File::open(&path).unwrap().read_to_string(&mut text).unwrap();
    print!("{text}");
    std::fs::create_dir(format!("{dir}/sub")).unwrap();
    std::fs::rename(&path, format!("{dir}/sub/moved.txt")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(format!("{dir}/sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    println!("{}", names.join(","));
    println!("{} bytes", std::fs::metadata(format!("{dir}/sub/moved.txt")).unwrap().len());
    match std::fs::read(format!("{dir}/../../../etc/passwd")) {
        Ok(_) => println!("escaped"),
        Err(e) => println!("refused: {:?}", e.kind()),
    }
    std::io::stdout().flush().unwrap();
    std::process::exit(7);
}
