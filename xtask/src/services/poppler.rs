//! Debian's poppler-utils: `pdftotext` reads the gdi module's PDFs back in
//! its tests, and `pdfsig` verifies their signatures, as a citizen's PDF
//! reader would.

use anyhow::Result;

use crate::util::{Apt, find_in_path};

/// The tools the tests run.
const TOOLS: [&str; 2] = ["pdftotext", "pdfsig"];

/// Makes sure the tools are on `PATH`, installing poppler-utils when one is
/// missing (root only; otherwise the error says what to install).
pub fn ensure(apt: &mut Apt) -> Result<()> {
    if TOOLS.iter().all(|t| find_in_path(t).is_some()) {
        return Ok(());
    }
    println!("pdftotext or pdfsig not found: installing Debian's poppler-utils");
    apt.install(&["poppler-utils"])
}
