//! Pass benchmark (work in progress).
fn main() {
    println!("pass bench: not yet implemented");
}
