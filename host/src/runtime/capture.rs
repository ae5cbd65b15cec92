//! Guest stdout and stderr: kept in memory up to a cap, then written to the
//! host log with the module name, so a chatty or hostile guest can neither
//! flood the log nor fail because its output is full.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Largest write a guest is offered at once (the WASI streams' usual size).
const WRITE_BUDGET: usize = 64 * 1024;

#[derive(Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: u64,
}

/// A capped in-memory sink for one guest stream. Writes never fail: bytes
/// past the cap are counted and discarded.
#[derive(Clone)]
pub struct LogCapture {
    cap: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl LogCapture {
    /// A sink keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            buffer: Arc::default(),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut b = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.cap.saturating_sub(b.kept.len());
        let keep = room.min(bytes.len());
        b.kept.extend_from_slice(&bytes[..keep]);
        b.dropped += (bytes.len() - keep) as u64;
    }

    /// The kept bytes as lines (lossily decoded), and how many bytes were
    /// dropped.
    pub fn take(&self) -> (Vec<String>, u64) {
        let mut b = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = std::mem::take(&mut b.kept);
        let lines = String::from_utf8_lossy(&kept)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        (lines, std::mem::take(&mut b.dropped))
    }
}

impl IsTerminal for LogCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogCapture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogCapture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LogCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_cap_and_counts_the_rest() {
        let c = LogCapture::new(10);
        c.append(b"hello\nwor");
        c.append(b"ld and more");
        let (lines, dropped) = c.take();
        assert_eq!(lines, vec!["hello".to_string(), "worl".to_string()]);
        assert_eq!(dropped, 10);
    }
}
