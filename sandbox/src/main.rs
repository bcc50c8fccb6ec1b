//! The `balena-sandbox` binary; everything lives in the library.

fn main() {
    balena_sandbox::main();
}
