//! Connections that open with a live stream (`GET /api/.../stream`, Server-Sent Events)
//! are carried here rather than by hyper: one request, its answer, then the connection
//! closes.
//!
//! Why: a live stream is a connection that stays open for as long as a page is, and an
//! instance is meant to hold ten thousand of them. hyper keeps an 8 KB read buffer and an
//! 8 KB write buffer for every HTTP/1.1 connection for as long as it lives, and neither can
//! be made smaller: 16 KB a viewer before the stream itself (about 1.3 KB, see
//! `app::events::stream`). Here the request's head is read into a buffer that is dropped
//! once it is parsed, and each event is written as it comes, so an idle stream costs its
//! socket, its task and its own state. `bench/sse` prints the memory an idle stream costs.
//!
//! The request still goes through the whole router (sessions, log-in, request ids,
//! metrics, logs): only the reading and writing of HTTP/1.1 differ. Which connections come
//! here is decided by peeking at their first line, without reading it; anything else (or
//! anything unclear: another method, HTTP/1.0, a line split over two packets) goes to hyper
//! as before. A stream asked for later on a kept-alive connection is served by hyper too,
//! correctly but at hyper's cost.

use axum::{
    body::{Body, HttpBody},
    extract::ConnectInfo,
    http::{header, HeaderName, HeaderValue, Request, Response, StatusCode, Version},
    Router,
};
use http_body_util::BodyExt;
use std::{io, net::SocketAddr, time::Duration};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tower::ServiceExt;

/// How long a new connection may take to send its first bytes before it is handed to
/// hyper anyway (which then waits as it always did).
const FIRST_BYTES: Duration = Duration::from_secs(10);
/// How long a stream's client may take to send the rest of its request's head.
const HEAD_TIME: Duration = Duration::from_secs(10);
/// The largest request head accepted (cookies included); past it, 431.
const MAX_HEAD: usize = 16 * 1024;
/// Enough of the first line to see a stream's path (a UUID in it).
const PEEK: usize = 160;

/// The server's listener: hands hyper every connection but those opening with a live
/// stream, which it carries itself (see the module's comment).
pub struct Listener {
    tcp: TcpListener,
    router: Router,
    /// Connections being sorted, and the streams carried here. They end with the
    /// listener, that is when the server stops accepting: a viewer's page then reconnects
    /// to another instance, missing nothing (`Last-Event-ID`).
    connections: JoinSet<Option<(TcpStream, SocketAddr)>>,
}

impl Listener {
    pub fn new(tcp: TcpListener, router: Router) -> Self {
        Self {
            tcp,
            router,
            connections: JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            tokio::select! {
                // axum's own accept for a TcpListener: it skips a client that gave up, and
                // logs and waits out anything else (out of file descriptors, say).
                (stream, client) = axum::serve::Listener::accept(&mut self.tcp) => {
                    self.connections.spawn(sort(stream, client, self.router.clone()));
                }
                Some(sorted) = self.connections.join_next(), if !self.connections.is_empty() => {
                    if let Ok(Some(for_hyper)) = sorted {
                        return for_hyper;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Carries the connection if it opens with a live stream; otherwise gives it back for
/// hyper.
async fn sort(
    stream: TcpStream,
    client: SocketAddr,
    router: Router,
) -> Option<(TcpStream, SocketAddr)> {
    let mut start = [0u8; PEEK];
    let peeked = match tokio::time::timeout(FIRST_BYTES, stream.peek(&mut start)).await {
        Ok(Ok(peeked)) => peeked,
        Ok(Err(_)) => return None,
        Err(_) => return Some((stream, client)),
    };
    if !opens_a_stream(&start[..peeked]) {
        return Some((stream, client));
    }
    carry(stream, client, router).await;
    None
}

/// Whether these first bytes are `GET /api/.../stream HTTP/1.1`, the whole line.
fn opens_a_stream(start: &[u8]) -> bool {
    let Some(end) = start.windows(2).position(|pair| pair == b"\r\n") else {
        return false;
    };
    let mut words = start[..end].split(|byte| *byte == b' ');
    let (Some(b"GET"), Some(target), Some(b"HTTP/1.1"), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let path = target
        .split(|byte| *byte == b'?')
        .next()
        .unwrap_or_default();
    path.starts_with(b"/api/") && path.ends_with(b"/stream")
}

/// Serves the connection's one request through the router and writes the answer as it
/// comes, then closes.
async fn carry(mut stream: TcpStream, client: SocketAddr, router: Router) {
    // Each event must leave at once, not wait for the previous one's acknowledgement.
    let _ = stream.set_nodelay(true);
    let request = match tokio::time::timeout(HEAD_TIME, read_head(&mut stream)).await {
        Ok(Ok(Some(request))) => request,
        Ok(Ok(None)) | Ok(Err(_)) => return,
        Err(_) => {
            let _ = refuse(&mut stream, StatusCode::REQUEST_TIMEOUT).await;
            return;
        }
    };
    let mut request = match request {
        Ok(request) => request,
        Err(status) => {
            let _ = refuse(&mut stream, status).await;
            return;
        }
    };
    request.extensions_mut().insert(ConnectInfo(client));
    let Ok(response) = router.oneshot(request).await;
    if let Err(error) = answer(&mut stream, response).await {
        tracing::debug!(%error, %client, "a live stream's connection ended");
    }
    let _ = stream.shutdown().await;
}

/// Reads the request's head: `None` if the client left first, a status for a request
/// that cannot be served. The buffer lives only until the head is parsed.
async fn read_head(
    stream: &mut TcpStream,
) -> io::Result<Option<Result<Request<Body>, StatusCode>>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(1024);
    loop {
        if head.len() >= MAX_HEAD {
            return Ok(Some(Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)));
        }
        head.reserve(1024.min(MAX_HEAD - head.len()));
        if stream.read_buf(&mut head).await? == 0 {
            return Ok(None);
        }
        if let Some(parsed) = parse_head(&head) {
            return Ok(Some(parsed));
        }
    }
}

/// The request in `head`, once it holds a whole head (`None` until then).
fn parse_head(head: &[u8]) -> Option<Result<Request<Body>, StatusCode>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) => Some(to_request(&parsed)),
        Err(httparse::Error::TooManyHeaders) => {
            Some(Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
        }
        Err(_) => Some(Err(StatusCode::BAD_REQUEST)),
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Result<Request<Body>, StatusCode> {
    let (Some(method), Some(path), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Err(StatusCode::BAD_REQUEST);
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .version(Version::HTTP_11);
    for field in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| StatusCode::BAD_REQUEST)?;
        // A stream's request has no body; one that says otherwise is not a stream's.
        if (name == header::CONTENT_LENGTH && field.value != b"0")
            || name == header::TRANSFER_ENCODING
        {
            return Err(StatusCode::BAD_REQUEST);
        }
        let value = HeaderValue::from_bytes(field.value).map_err(|_| StatusCode::BAD_REQUEST)?;
        request = request.header(name, value);
    }
    request
        .body(Body::empty())
        .map_err(|_| StatusCode::BAD_REQUEST)
}

/// A request that never reached the router: its status, and the connection closes.
async fn refuse(stream: &mut TcpStream, status: StatusCode) -> io::Result<()> {
    let reason = status.canonical_reason().unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{reason}",
        status.as_u16(),
        reason.len()
    );
    stream.write_all(head.as_bytes()).await?;
    // What the client is still sending (the rest of a head too large) is read and
    // dropped for a moment: closing with it unread would reset the connection, and the
    // client could lose the answer.
    stream.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(1), left(stream)).await;
    Ok(())
}

/// Writes the response: its head, then its body as it comes (chunked unless its length is
/// known), until the body ends or the client leaves.
async fn answer(stream: &mut TcpStream, response: Response<Body>) -> io::Result<()> {
    let (parts, mut body) = response.into_parts();
    let length = HttpBody::size_hint(&body).exact();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or_default()
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if [
            header::CONNECTION,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
        ]
        .contains(name)
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(header::DATE) {
        head.extend_from_slice(b"date: ");
        head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    match length {
        Some(length) => head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes()),
        None => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    stream.write_all(&head).await?;
    drop((head, parts));

    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = left(stream) => return Ok(()),
        };
        let data = match frame {
            None => break,
            // The answer breaks off without its last chunk: the client sees it failed.
            Some(Err(error)) => return Err(io::Error::other(error)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if !data.is_empty() => data,
                _ => continue,
            },
        };
        if length.is_some() {
            stream.write_all(&data).await?;
        } else {
            let mut chunk = Vec::with_capacity(data.len() + 12);
            chunk.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            stream.write_all(&chunk).await?;
        }
    }
    if length.is_none() {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// Completes when the client closes its end (or the connection fails), so an idle stream
/// gives its viewer's place back at once rather than at its next keep-alive comment.
/// Anything the client sends meanwhile is read and dropped.
async fn left(stream: &TcpStream) {
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match drain(stream) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Reads what the client sent, into a buffer that is not kept across waits.
fn drain(stream: &TcpStream) -> io::Result<usize> {
    let mut sink = [0u8; 512];
    stream.try_read(&mut sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_first_line_asking_for_a_stream_is_carried_here() {
        let id = "0b5a4d2e-6a52-4b1e-9a43-2f1e7f0f3c11";
        for (line, carried) in [
            (
                format!("GET /api/storyboards/{id}/stream HTTP/1.1\r\nHost: x\r\n"),
                true,
            ),
            (
                format!("GET /api/projects/{id}/stream?after=3 HTTP/1.1\r\n"),
                true,
            ),
            (
                format!("GET /api/compositions/{id}/stream HTTP/1.1\r\n"),
                true,
            ),
            // Pages, other methods and versions, and a line not all here yet.
            ("GET / HTTP/1.1\r\n".to_string(), false),
            (
                format!("POST /api/projects/{id}/stream HTTP/1.1\r\n"),
                false,
            ),
            (format!("GET /api/projects/{id}/stream HTTP/1.0\r\n"), false),
            (format!("GET /api/projects/{id}/stream HTTP/1.1"), false),
            (
                format!("GET /api/projects/{id}/streams HTTP/1.1\r\n"),
                false,
            ),
            (format!("GET /projects/{id}/stream HTTP/1.1\r\n"), false),
            ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_string(), false),
        ] {
            assert_eq!(opens_a_stream(line.as_bytes()), carried, "{line:?}");
        }
    }

    #[test]
    fn a_head_is_parsed_once_whole_and_a_body_or_a_bad_header_is_refused() {
        let whole = b"GET /api/projects/x/stream HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\n\r\n";
        assert!(parse_head(&whole[..30]).is_none(), "half a head waits");
        let request = parse_head(whole).unwrap().unwrap();
        assert_eq!(request.uri().path(), "/api/projects/x/stream");
        assert_eq!(request.headers()["cookie"], "s=1");
        for refused in [
            &b"GET /api/projects/x/stream HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"[..],
            b"GET /api/projects/x/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /api/projects/x/stream HTTP/1.1\r\nBad Header: 1\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(refused).unwrap().unwrap_err(),
                StatusCode::BAD_REQUEST
            );
        }
    }
}
