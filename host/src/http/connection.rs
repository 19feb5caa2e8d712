//! Connections whose first request head is checked before hyper reads it.
//!
//! hyper answers a head it cannot parse (a header block of a megabyte, a
//! control byte in the path) on its own, with a bare status and no body,
//! before any of Plaza's layers run. Clients then get nothing to read and
//! no request id to quote. So each new connection's first head is read
//! here, bounded by [`MAX_HEAD_BYTES`], and checked against RFC 9112's
//! grammar; a bad one is answered with a problem document, like every other
//! error, and the connection closed. A good one is handed to hyper
//! untouched, and the rest of the connection passes straight through (on a
//! kept-alive connection, later heads are checked by hyper alone).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head accepted: request line and header fields.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The first bytes of an HTTP/2 connection with prior knowledge.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Wraps an acceptor so that each connection's first head is checked.
pub struct CheckedAcceptor<A>(pub A);

impl<A: Acceptor> Acceptor for CheckedAcceptor<A> {
    type Io = CheckedStream<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((CheckedStream { inner: io, state: State::Head(Vec::new()) }, local, remote, scheme))
    }
}

/// A connection of a [`CheckedAcceptor`].
pub struct CheckedStream<S> {
    inner: S,
    state: State,
}

enum State {
    /// Reading the first head.
    Head(Vec<u8>),
    /// The head was good: giving its bytes to hyper, then passing through.
    Replay(Vec<u8>, usize),
    /// The head was bad: writing the answer, then ending the connection.
    Refuse(Vec<u8>, usize),
    Pass,
    Done,
}

/// Why a head was refused.
#[derive(Debug, PartialEq, Eq)]
enum Bad {
    TooLarge,
    Malformed(&'static str),
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for CheckedStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Pass => return Pin::new(&mut this.inner).poll_read(cx, out),
                State::Done => return Poll::Ready(Ok(())),
                State::Replay(buf, at) => {
                    let n = out.remaining().min(buf.len() - *at);
                    out.put_slice(&buf[*at..*at + n]);
                    *at += n;
                    if *at == buf.len() {
                        this.state = State::Pass;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Refuse(answer, written) => {
                    while *written < answer.len() {
                        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
                        if n == 0 {
                            break;
                        }
                        *written += n;
                    }
                    ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
                    // hyper reads the end of a connection that never sent a request.
                    this.state = State::Done;
                    let _ = Pin::new(&mut this.inner).poll_shutdown(cx);
                }
                State::Head(buf) => {
                    let mut chunk = [0u8; 8192];
                    let mut read = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                    let got = read.filled();
                    if got.is_empty() {
                        // The client left before a whole head: hyper sees what came.
                        let seen = std::mem::take(buf);
                        this.state = if seen.is_empty() { State::Done } else { State::Replay(seen, 0) };
                        if matches!(this.state, State::Done) {
                            return Poll::Ready(Ok(()));
                        }
                        continue;
                    }
                    // Only the new bytes (and the three before them) can
                    // complete the head: a head sent a byte at a time is
                    // not scanned again and again.
                    let from = buf.len().saturating_sub(3);
                    buf.extend_from_slice(got);
                    match check_from(buf, from) {
                        None => continue,
                        Some(Ok(())) => this.state = State::Replay(std::mem::take(buf), 0),
                        Some(Err(bad)) => this.state = State::Refuse(answer(&bad), 0),
                    }
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CheckedStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// `None` while the head is incomplete; then whether it may go on.
#[cfg(test)]
fn check(buf: &[u8]) -> Option<Result<(), Bad>> {
    check_from(buf, 0)
}

/// [`check`], with no head end before `from`.
fn check_from(buf: &[u8], from: usize) -> Option<Result<(), Bad>> {
    if buf.starts_with(H2_PREFACE) || (H2_PREFACE.starts_with(buf) && buf.len() < H2_PREFACE.len()) {
        return (buf.len() >= H2_PREFACE.len()).then_some(Ok(()));
    }
    // Blank lines before the request line are allowed (RFC 9112, 2.2).
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    if start == buf.len() {
        return (buf.len() > MAX_HEAD_BYTES).then_some(Err(Bad::TooLarge));
    }
    let body = &buf[start..];
    let search = from.saturating_sub(start).min(body.len());
    let end = memchr::memmem::find(&body[search..], b"\r\n\r\n").map(|i| search + i + 2).or_else(|| {
        // A bare LF ending each line is accepted by hyper too.
        memchr::memmem::find(&body[search..], b"\n\n").map(|i| search + i + 1)
    });
    let Some(end) = end else {
        return (buf.len() > MAX_HEAD_BYTES).then_some(Err(Bad::TooLarge));
    };
    if start + end > MAX_HEAD_BYTES {
        return Some(Err(Bad::TooLarge));
    }
    Some(check_head(&body[..end]))
}

/// Checks a complete head (its lines, the blank line excluded).
fn check_head(head: &[u8]) -> Result<(), Bad> {
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Bad::Malformed("the request line is not `METHOD target HTTP/1.1`"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(Bad::Malformed("the method is not a token"));
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(Bad::Malformed("the request target holds a byte that must be percent-encoded"));
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(Bad::Malformed("the HTTP version is not HTTP/1.1 or HTTP/1.0"));
    }
    for line in lines.filter(|l| !l.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(Bad::Malformed("a header line has no `:`"));
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(Bad::Malformed("a header name is not a token"));
        }
        if !value.iter().all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f) {
            return Err(Bad::Malformed("a header value holds a control character"));
        }
    }
    Ok(())
}

/// RFC 9110's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The whole HTTP answer to a refused head: a problem document.
fn answer(bad: &Bad) -> Vec<u8> {
    let (status, reason, kind, detail) = match bad {
        Bad::TooLarge => (
            431,
            "Request Header Fields Too Large",
            "header-fields-too-large",
            format!("the request line and headers may take {MAX_HEAD_BYTES} bytes"),
        ),
        Bad::Malformed(why) => (400, "Bad Request", "malformed-request", format!("malformed request: {why}")),
    };
    let request_id = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "type": format!("urn:plaza:problem:{kind}"),
        "title": reason,
        "status": status,
        "detail": detail,
        "request_id": request_id,
    })
    .to_string();
    tracing::info!(status, request_id = %request_id, reason = %detail, "malformed request refused");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\
         x-request-id: {request_id}\r\nx-content-type-options: nosniff\r\n\
         content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n\r\n{body}",
        super::problem::PROBLEM_JSON,
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn good_heads_pass_and_incomplete_ones_wait() {
        assert_eq!(check(b"GET /t/acme/blog/posts?x=1 HTTP/1.1\r\nHost: a\r\nX-Y: z \t w\r\n\r\n"), Some(Ok(())));
        assert_eq!(check(b"\r\nPOST / HTTP/1.0\nHost: a\n\n"), Some(Ok(())));
        assert_eq!(check(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(check(b"PRI * HTTP/2.0\r\n"), None);
        assert_eq!(check(H2_PREFACE), Some(Ok(())));
        assert_eq!(check(b"GET /caf%C3%A9 HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xc3\xa9\r\n\r\n"), Some(Ok(())));
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_is_found_once() {
        let head = b"\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut buf = Vec::new();
        let mut seen = None;
        for (i, b) in head.iter().enumerate() {
            let from = buf.len().saturating_sub(3);
            buf.push(*b);
            seen = check_from(&buf, from);
            assert_eq!(seen.is_some(), i == head.len() - 1, "complete only at the last byte ({i})");
        }
        assert_eq!(seen, Some(Ok(())));
    }

    #[test]
    fn bad_heads_are_refused() {
        for head in [
            &b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        ] {
            assert!(matches!(check(head), Some(Err(Bad::Malformed(_)))), "{}", String::from_utf8_lossy(head));
        }
        let mut huge = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        huge.resize(MAX_HEAD_BYTES + 10, b'a');
        assert_eq!(check(&huge), Some(Err(Bad::TooLarge)), "refused before its end arrives");
    }

    #[test]
    fn the_answer_is_a_problem_document() {
        let text = String::from_utf8(answer(&Bad::TooLarge)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["status"], 431);
        assert!(head.contains(&format!("x-request-id: {}", doc["request_id"].as_str().unwrap())));
    }
}
