fn main() -> std::process::ExitCode {
    balena_rs::main()
}
