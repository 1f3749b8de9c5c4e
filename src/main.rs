fn main() -> std::process::ExitCode {
    goodwill::cli::main()
}
