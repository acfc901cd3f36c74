//! Framing of gossip over byte streams: the hello frame that opens a dialled connection and
//! the `[u32 big-endian length][one datagram]` frames that follow.
//!
//! Hello payload: `[HELLO_VERSION][pool id length u8][pool id (UTF-8)][advertised address as
//! text, e.g. "10.0.0.1:8300"]`, itself sent as one frame of at most [`MAX_HELLO`] bytes.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::stream::{BoxStream, Hello};

/// Largest datagram frame accepted; a larger length closes the connection.
pub(crate) const MAX_FRAME: usize = 64 * 1024;
/// Largest hello payload.
pub(crate) const MAX_HELLO: usize = 512;
/// Version byte of the hello frame.
const HELLO_VERSION: u8 = 1;
/// Longest pool id (its length travels in one byte).
pub(crate) const MAX_POOL_ID: usize = u8::MAX as usize;

/// `[len][data]` as one buffer (written with a single call, so TLS sends one record).
pub(crate) fn encode_frame(data: &[u8]) -> io::Result<Vec<u8>> {
    if data.is_empty() || data.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes (must be 1..={MAX_FRAME})", data.len()),
        ));
    }
    // Within MAX_FRAME, so it fits in a u32.
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(4 + data.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(data);
    Ok(frame)
}

/// Reads one frame of at most `max` bytes; `Ok(None)` on a clean end of stream before a
/// frame starts. A zero or too large length is `InvalidData`.
pub(crate) async fn read_frame<R: AsyncRead + Unpin + ?Sized>(
    stream: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len_buf = [0u8; 4];
    let mut got = 0;
    while got < len_buf.len() {
        let n = stream.read(&mut len_buf[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    let len = usize::try_from(u32::from_be_bytes(len_buf)).unwrap_or(usize::MAX);
    if len == 0 || len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {len} (must be 1..={max})"),
        ));
    }
    let mut data = vec![0u8; len];
    stream.read_exact(&mut data).await?;
    Ok(Some(data))
}

/// The hello frame (length prefix included) a dialled connection starts with.
pub(crate) fn encode_hello(hello: &Hello) -> io::Result<Vec<u8>> {
    let id = hello.pool_id.as_bytes();
    let id_len = u8::try_from(id.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("pool id longer than {MAX_POOL_ID} bytes"),
        )
    })?;
    let addr = hello.from.to_string();
    let mut payload = Vec::with_capacity(2 + id.len() + addr.len());
    payload.push(HELLO_VERSION);
    payload.push(id_len);
    payload.extend_from_slice(id);
    payload.extend_from_slice(addr.as_bytes());
    encode_frame(&payload)
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Parses a hello payload (without its length prefix).
pub(crate) fn decode_hello(payload: &[u8]) -> io::Result<Hello> {
    let [version, id_len, rest @ ..] = payload else {
        return Err(invalid("hello too short"));
    };
    if *version != HELLO_VERSION {
        return Err(invalid(format!("unknown hello version {version}")));
    }
    let id_len = usize::from(*id_len);
    if id_len == 0 || rest.len() < id_len {
        return Err(invalid("bad pool id length in hello"));
    }
    let (id, addr) = rest.split_at(id_len);
    let pool_id = std::str::from_utf8(id)
        .map_err(|_| invalid("pool id in hello is not UTF-8"))?
        .to_owned();
    let from: SocketAddr = std::str::from_utf8(addr)
        .ok()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| invalid("bad address in hello"))?;
    if from.ip().is_unspecified() || from.port() == 0 {
        return Err(invalid(format!("unusable address {from} in hello")));
    }
    Ok(Hello { pool_id, from })
}

/// Reads the first frame of an accepted stream: which pool it is for and the dialer's
/// advertised address. Fails with `TimedOut` after `timeout`, `InvalidData` on a malformed
/// hello, `UnexpectedEof` if the stream ends first.
pub async fn read_hello(stream: &mut BoxStream, timeout: Duration) -> io::Result<Hello> {
    let frame = tokio::time::timeout(timeout, read_frame(stream, MAX_HELLO))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no gossip hello in time"))??;
    let payload = frame.ok_or(io::ErrorKind::UnexpectedEof)?;
    decode_hello(&payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            pool_id: "area-dc1-dc2".into(),
            from: "127.0.0.1:8300".parse().unwrap(),
        }
    }

    #[test]
    fn hello_round_trips() {
        let frame = encode_hello(&hello()).unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(decode_hello(&frame[4..]).unwrap(), hello());
        let v6 = Hello {
            pool_id: "p".into(),
            from: "[::1]:9".parse().unwrap(),
        };
        assert_eq!(decode_hello(&encode_hello(&v6).unwrap()[4..]).unwrap(), v6);
    }

    /// Stream frames and hellos come from whoever dials the RPC port: mutated bytes never
    /// panic the frame reader or the hello decoder (see `praetor_fuzz`).
    #[tokio::test]
    async fn fuzz_stream_frames_and_hellos() {
        let hello_frame = encode_hello(&hello()).unwrap();
        let data_frame = encode_frame(b"\x01\x02payload").unwrap();
        let mut inputs = Vec::new();
        praetor_fuzz::run("stream frames", &[&hello_frame, &data_frame], |bytes| {
            if bytes.len() > 4 {
                let _ = decode_hello(&bytes[4..]);
            }
            inputs.push(bytes.to_vec());
        });
        for bytes in inputs {
            let mut reader: &[u8] = &bytes;
            while let Ok(Some(_)) = read_frame(&mut reader, 64 << 10).await {}
        }
    }

    #[test]
    fn malformed_hellos_are_refused() {
        let good = encode_hello(&hello()).unwrap()[4..].to_vec();
        assert!(decode_hello(&[]).is_err());
        assert!(decode_hello(&[HELLO_VERSION]).is_err());
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        assert!(decode_hello(&bad_version).is_err());
        let mut long_id = good.clone();
        long_id[1] = 200;
        assert!(decode_hello(&long_id).is_err());
        assert!(decode_hello(&[HELLO_VERSION, 0, b'1']).is_err());
        let mut no_addr = vec![HELLO_VERSION, 1, b'p'];
        assert!(decode_hello(&no_addr).is_err());
        no_addr.extend_from_slice(b"0.0.0.0:1");
        assert!(decode_hello(&no_addr).is_err());
        let too_long = Hello {
            pool_id: "x".repeat(MAX_POOL_ID + 1),
            from: hello().from,
        };
        assert!(encode_hello(&too_long).is_err());
    }

    #[tokio::test]
    async fn frames_are_capped() {
        let mut data: &[u8] = &[0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 9];
        assert_eq!(read_frame(&mut data, 8).await.unwrap(), Some(vec![1, 2, 3]));
        let err = read_frame(&mut data, 8).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut zero: &[u8] = &[0, 0, 0, 0];
        assert!(read_frame(&mut zero, 8).await.is_err());
        let mut empty: &[u8] = &[];
        assert_eq!(read_frame(&mut empty, 8).await.unwrap(), None);
        let mut cut: &[u8] = &[0, 0];
        assert!(read_frame(&mut cut, 8).await.is_err());
        let mut short_body: &[u8] = &[0, 0, 0, 4, 1];
        assert!(read_frame(&mut short_body, 8).await.is_err());
        assert!(encode_frame(&[]).is_err());
        assert!(encode_frame(&vec![0; MAX_FRAME + 1]).is_err());
        assert_eq!(encode_frame(&[7]).unwrap(), vec![0, 0, 0, 1, 7]);
    }

    #[tokio::test]
    async fn read_hello_times_out_and_parses() {
        let (client, server) = tokio::io::duplex(1024);
        let mut server: BoxStream = Box::new(server);
        let err = read_hello(&mut server, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let mut client = client;
        tokio::io::AsyncWriteExt::write_all(&mut client, &encode_hello(&hello()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            read_hello(&mut server, Duration::from_secs(5))
                .await
                .unwrap(),
            hello()
        );
    }
}
