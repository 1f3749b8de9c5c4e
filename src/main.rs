fn main() -> std::process::ExitCode {
    // Every log line of the process goes through it (GOODWILL_LOG, journald).
    goodwill::runtime::logger::init();
    goodwill::cli::main()
}
