//! Invitation mail through SMTP (lettre), when `PLAZA_SMTP_URL` is set.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// A configured SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// The mailer of the configuration, or `None` without `smtp_url` (or with an invalid one, logged).
    pub fn from_config(config: &Config) -> Option<Self> {
        if config.smtp_url.is_empty() {
            return None;
        }
        let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url) {
            Ok(t) => t.build(),
            Err(e) => {
                tracing::error!(error = %e, "invalid PLAZA_SMTP_URL; invitations will not be mailed");
                return None;
            }
        };
        let from = match config.smtp_from.parse() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "invalid PLAZA_SMTP_FROM; invitations will not be mailed");
                return None;
            }
        };
        Some(Self { transport, from, public_url: config.public_url.trim_end_matches('/').to_owned() })
    }

    /// Mails an invitation with its token.
    pub async fn send_invitation(&self, to: &str, tenant: &str, token: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e: lettre::address::AddressError| e.to_string())?;
        let body = format!(
            "You are invited to the tenant \"{tenant}\" on Plaza.\n\n\
             Create an account at {url}/api/v1/auth/register with this invitation token,\n\
             or, if you have one, accept it at {url}/api/v1/auth/invitations/accept:\n\n    {token}\n\n\
             The invitation expires in 7 days.\n",
            url = self.public_url
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("Invitation to {tenant} on Plaza"))
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}
