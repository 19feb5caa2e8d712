//! The tenant's settings (`PUT /t/{tenant}/modules/einvoicing/config/{key}`),
//! one key per part: `country`, `timezone`, `certificate`, `ecuador`,
//! `spain`. The host checks each value against the schema below before it
//! stores it; the module reads them once per call.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The AEAT's VeriFactu test service.
pub const AEAT_TEST: &str = "https://prewww1.aeat.es/wlpl/TIKE-CONT/ws/SistemaFacturacion/VerifactuSOAP";

/// Every setting, for the module's config schema.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[allow(dead_code)] // a schema only
pub struct Settings {
    /// `EC` (SRI comprobantes) or `ES` (VeriFactu records). Nothing is
    /// issued until it is set.
    #[schemars(regex(pattern = r"^(EC|ES)$"))]
    pub country: Option<String>,
    /// IANA time zone of the issuer (`America/Guayaquil`, `Europe/Madrid`):
    /// dates printed and hashed are calendar dates there. UTC by default; a
    /// name that is no zone stops issuing (409 naming the setting).
    pub timezone: Option<String>,
    /// The name of the module's certificate that signs (installed by a
    /// tenant admin at `/t/{tenant}/modules/einvoicing/certificates/{name}`);
    /// `firma` by default.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub certificate: Option<String>,
    pub ecuador: Option<Ecuador>,
    pub spain: Option<Spain>,
}

/// The issuer in Ecuador, as the SRI's `infoTributaria` names it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Ecuador {
    /// The issuer's RUC (13 digits).
    #[schemars(regex(pattern = r"^\d{10}001$"))]
    pub ruc: String,
    pub razon_social: String,
    #[serde(default)]
    pub nombre_comercial: Option<String>,
    /// Dirección matriz.
    pub dir_matriz: String,
    /// Dirección del establecimiento (the matriz's when absent).
    #[serde(default)]
    pub dir_establecimiento: Option<String>,
    /// The establishment of documents made through the API (sales keep their own series).
    #[schemars(regex(pattern = r"^\d{3}$"))]
    pub establecimiento: String,
    /// The emission point of documents made through the API and of credit
    /// notes: give it one that `erp` does not use, so numbers never meet.
    #[schemars(regex(pattern = r"^\d{3}$"))]
    pub punto_emision: String,
    /// 1 pruebas, 2 producción.
    #[schemars(range(min = 1, max = 2))]
    pub ambiente: u8,
    /// Obligado a llevar contabilidad.
    pub obligado_contabilidad: bool,
    /// Número de resolución, for contribuyentes especiales.
    #[serde(default)]
    pub contribuyente_especial: Option<String>,
    /// The SRI's base URL (`https://celcer.sri.gob.ec` pruebas,
    /// `https://cel.sri.gob.ec` producción); by `ambiente` when absent.
    #[serde(default)]
    pub sri_url: Option<String>,
}

/// The issuer in Spain.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Spain {
    /// The issuer's NIF.
    #[schemars(regex(pattern = r"^[0-9A-Z]{9}$"))]
    pub nif: String,
    /// Nombre o razón social.
    pub name: String,
    /// The VeriFactu service URL (the AEAT's test service by default).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Whether the QR points at the AEAT's production cotejo service (`false`: pruebas).
    #[serde(default)]
    pub production: bool,
    /// The series of invoices made through the API (sales keep theirs).
    #[serde(default)]
    pub series: Option<String>,
}

/// The country a tenant issues in, with its issuer.
#[derive(Debug, Clone)]
pub enum Issuer {
    Ecuador(Ecuador),
    Spain(Spain),
}

/// What one call needs of the settings.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub issuer: Issuer,
    /// The issuer's time zone (the `timezone` setting).
    pub zone: jiff::tz::TimeZone,
    pub certificate: String,
}

impl Tenant {
    /// The settings, or `None` while the tenant has not chosen a country
    /// (then nothing is issued: a sale is not an error).
    pub fn load() -> Result<Option<Self>, Problem> {
        let Some(country) = config::get::<String>("country")? else {
            return Ok(None);
        };
        let issuer = match country.as_str() {
            "EC" => Issuer::Ecuador(config::get("ecuador")?.ok_or_else(|| missing("ecuador"))?),
            "ES" => Issuer::Spain(config::get("spain")?.ok_or_else(|| missing("spain"))?),
            _ => return Ok(None),
        };
        let timezone: String = config::get("timezone")?.unwrap_or_else(|| "UTC".to_owned());
        // A date printed and hashed in the wrong zone is a wrong fiscal
        // date: refuse rather than fall back to UTC.
        let zone = jiff::tz::TimeZone::get(&timezone).map_err(|_| {
            Problem::conflict(format!("the `timezone` setting {timezone:?} is not an IANA time zone"))
                .with_type("urn:plaza:problem:einvoicing:not-configured")
                .with("setting", "timezone")
        })?;
        Ok(Some(Self { issuer, zone, certificate: config::get("certificate")?.unwrap_or_else(|| "firma".to_owned()) }))
    }

    /// The settings, or a 409 saying what to set first.
    pub fn required() -> Result<Self, Problem> {
        Self::load()?.ok_or_else(|| {
            Problem::conflict("set the `country` setting (EC or ES) and its issuer before issuing documents")
                .with_type("urn:plaza:problem:einvoicing:not-configured")
        })
    }

    pub fn country(&self) -> &'static str {
        match self.issuer {
            Issuer::Ecuador(_) => "EC",
            Issuer::Spain(_) => "ES",
        }
    }

    /// Today in the issuer's time zone, yyyy-mm-dd.
    pub fn today(&self) -> String {
        self.now().date().to_string()
    }

    /// Now in the issuer's time zone with its offset (`2024-01-01T19:20:30+01:00`).
    pub fn now_with_offset(&self) -> String {
        self.now().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// Now (the module's clock) in the issuer's zone.
    fn now(&self) -> jiff::Zoned {
        let now = jiff::Timestamp::from_second(time::now_unix()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        now.to_zoned(self.zone.clone())
    }
}

fn missing(key: &str) -> Problem {
    Problem::conflict(format!("the `country` setting needs the `{key}` setting (the issuer) too"))
        .with_type("urn:plaza:problem:einvoicing:not-configured")
}
