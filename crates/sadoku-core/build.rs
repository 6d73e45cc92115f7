//! The library of problems (`problems/` at the workspace root) is built into the binary: rebuild
//! when any of it changes, new files included.
fn main() {
    println!("cargo:rerun-if-changed=../../problems");
    if let Ok(entries) = std::fs::read_dir("../../problems") {
        for e in entries.flatten() {
            println!("cargo:rerun-if-changed={}", e.path().display());
            if let Ok(files) = std::fs::read_dir(e.path()) {
                for f in files.flatten() {
                    println!("cargo:rerun-if-changed={}", f.path().display());
                }
            }
        }
    }
}
