use clap::Parser;

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
