//! The request body limit.
//!
//! poem's own `SizeLimit` answers a request without `Content-Length` (a chunked body) with
//! 400; [`BodyLimit`] rejects a declared length over the limit at once and otherwise reads at
//! most `max` bytes of the body, answering 413 (`payload-too-large`) in both cases.

use poem::http::{StatusCode, header};
use poem::{Body, Endpoint, Middleware, Request, Result};

/// The middleware: bodies over `max` bytes are answered with 413.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit {
    max: usize,
}

impl BodyLimit {
    /// A limit of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            max: self.max,
        }
    }
}

/// The endpoint [`BodyLimit`] wraps.
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

fn too_large() -> poem::Error {
    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()));
        match declared {
            // A malformed Content-Length is refused by the HTTP layer before we see it; a
            // value that does not fit is over any limit.
            Some(None) => return Err(too_large()),
            Some(Some(len)) => {
                if usize::try_from(len).map_or(true, |len| len > self.max) {
                    return Err(too_large());
                }
            }
            None => {
                let body = req.take_body();
                let bytes = body.into_bytes_limit(self.max).await.map_err(|e| match e {
                    poem::error::ReadBodyError::PayloadTooLarge => too_large(),
                    other => poem::Error::from(other),
                })?;
                req.set_body(Body::from(bytes));
            }
        }
        self.inner.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::{EndpointExt, handler, test::TestClient};

    #[handler]
    fn echo(body: String) -> String {
        body
    }

    #[tokio::test]
    async fn declared_and_streamed_bodies_over_the_limit_are_413() {
        let app = echo.with(BodyLimit::new(8));
        let cli = TestClient::new(app);
        cli.post("/")
            .body("12345678")
            .send()
            .await
            .assert_text("12345678")
            .await;
        cli.post("/")
            .body("123456789")
            .send()
            .await
            .assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        let chunks = futures_chunks(&["12345", "6789"]);
        cli.post("/")
            .body(Body::from_bytes_stream(chunks))
            .send()
            .await
            .assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        let chunks = futures_chunks(&["1234", "5678"]);
        cli.post("/")
            .body(Body::from_bytes_stream(chunks))
            .send()
            .await
            .assert_text("12345678")
            .await;
    }

    fn futures_chunks(
        parts: &[&'static str],
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static
    {
        let parts: Vec<_> = parts.iter().map(|p| Ok(bytes::Bytes::from(*p))).collect();
        futures_util::stream::iter(parts)
    }
}
