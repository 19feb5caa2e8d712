//! Spain: VeriFactu records.

pub mod huella;
pub mod qr;
pub mod xml;
