//! Debian's Chromium, for the headless Swagger UI check.

use std::path::{Path, PathBuf};

use crate::util::Apt;

const CHROMIUM: &str = "/usr/bin/chromium";

/// `/usr/bin/chromium`, installed from Debian's packages when missing and
/// we are root. `None` (with a warning) when it cannot be had: the test
/// that needs it then skips, the rest of the pass still runs.
pub fn ensure(apt: &mut Apt) -> Option<PathBuf> {
    let path = Path::new(CHROMIUM);
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    println!("{CHROMIUM} not found: installing Debian's chromium");
    if let Err(err) = apt.install(&["chromium"]) {
        eprintln!("warning: no Chromium, the Swagger UI browser test will not run: {err:#}");
        return None;
    }
    path.is_file().then(|| path.to_path_buf())
}
