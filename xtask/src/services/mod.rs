//! Real backing services for the test passes, installed on demand and
//! started privately (temporary directories, free ports), stopped on drop.

pub mod chromium;
pub mod poppler;
pub mod postgres;
pub mod python;
pub mod s3;
pub mod xmlsec;
