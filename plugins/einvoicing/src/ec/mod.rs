//! Ecuador: the SRI's electronic comprobantes.

pub mod clave;
pub mod sri;
pub mod xades;
pub mod xml;
