use clap::Parser;

/// mimalloc rather than glibc's allocator: a request allocates and frees
/// many small buffers across threads (headers, rows, the module's
/// request and answer), where glibc's arenas and `malloc_consolidate`
/// showed up in the profiles (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = plaza::cli::Cli::parse();
    match plaza::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", plaza::cli::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
