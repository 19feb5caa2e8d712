//! The tax-authority mock (`plaza_testing::tax_mock`) as a process: the
//! SRI's offline web services and the AEAT's VeriFactu service on
//! loopback, answering "received", "authorized" and "correct", so that the
//! demo tenant's invoices go all the way without reaching a real tax
//! authority. `cargo xtask dev` starts it; the address is the first
//! argument (`127.0.0.1:8089` by default).

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8089".to_owned());
    let mock = plaza_testing::tax_mock::TaxMock::start_on(&addr).await?;
    println!(
        "tax-authority mock on {} (SRI at /comprobantes-electronicos-ws/…, AEAT at {})",
        mock.url(),
        mock.aeat_url()
    );
    tokio::signal::ctrl_c().await
}
