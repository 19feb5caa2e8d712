//! Debian's `xmlsec1`: verifies the einvoicing module's XAdES-BES
//! signatures in its tests, as the SRI's own checker would (a signature
//! only Plaza's code accepts does not count).

use anyhow::Result;

use crate::util::{Apt, find_in_path};

/// Makes sure `xmlsec1` is on `PATH`, installing Debian's package when it is
/// missing (root only; otherwise the error says what to install).
pub fn ensure(apt: &mut Apt) -> Result<()> {
    if find_in_path("xmlsec1").is_some() {
        return Ok(());
    }
    println!("xmlsec1 not found: installing Debian's xmlsec1");
    apt.install(&["xmlsec1"])
}
