//! Host imports: SRV over UDP, HTTP GET, file grants (against servers on loopback).

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record};

use crate::Grants;
use crate::imports::{http_get, read_file, resolve_srv};

#[test]
fn srv_lookup_against_a_loopback_server() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let (len, from) = server.recv_from(&mut buf).unwrap();
        let query = Message::from_vec(&buf[..len]).unwrap();
        let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
        answer.metadata.message_type = MessageType::Response;
        let name = query.queries[0].name().clone();
        answer.add_queries(query.queries.clone());
        for (port, target) in [(8301u16, "a.example."), (8302, "b.example.")] {
            let srv = SRV::new(1, 1, port, Name::from_ascii(target).unwrap());
            answer.add_answer(Record::from_rdata(name.clone(), 60, RData::SRV(srv)));
        }
        server.send_to(&answer.to_vec().unwrap(), from).unwrap();
    });
    let got = resolve_srv(addr, "_serf._tcp.example").unwrap();
    assert_eq!(got, ["a.example:8301", "b.example:8302"]);
    responder.join().unwrap();
}

fn one_http_answer(
    status_line: &'static str,
    body: &'static str,
) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).unwrap();
        let reply = format!(
            "HTTP/1.1 {status_line}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(reply.as_bytes()).unwrap();
    });
    (format!("http://127.0.0.1:{port}/servers"), t)
}

#[test]
fn http_get_within_grants() {
    let grants = Grants {
        http_hosts: vec!["127.0.0.1".into()],
        ..Grants::default()
    };
    let (url, t) = one_http_answer("200 OK", "10.0.0.1\n10.0.0.2\n");
    assert_eq!(http_get(&grants, &url).unwrap(), "10.0.0.1\n10.0.0.2\n");
    t.join().unwrap();
    let (url, t) = one_http_answer("404 Not Found", "no");
    assert_eq!(http_get(&grants, &url).unwrap_err(), "status 404");
    t.join().unwrap();
    assert_eq!(
        http_get(&Grants::default(), "http://127.0.0.1:1/x").unwrap_err(),
        "denied: 127.0.0.1"
    );
    assert_eq!(
        http_get(&grants, "http://localhost:1/x").unwrap_err(),
        "denied: localhost"
    );
}

#[test]
fn read_file_is_confined_to_canonical_grants() {
    let base = std::env::temp_dir().join(format!("praetor-ph-grants-{}", std::process::id()));
    let granted = base.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("a.txt"), "10.0.0.1\n").unwrap();
    std::fs::write(base.join("secret.txt"), "s3cret").unwrap();
    let link = granted.join("escape.txt");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(base.join("secret.txt"), &link).unwrap();
    let grants = Grants {
        read_paths: vec![granted.clone()],
        ..Grants::default()
    };
    let p = |x: &std::path::Path| x.to_string_lossy().into_owned();
    assert_eq!(
        read_file(&grants, &p(&granted.join("a.txt"))).unwrap(),
        "10.0.0.1\n"
    );
    let dotdot = granted.join("../secret.txt");
    assert_eq!(
        read_file(&grants, &p(&dotdot)).unwrap_err(),
        format!("denied: {}", p(&dotdot))
    );
    assert_eq!(
        read_file(&grants, &p(&link)).unwrap_err(),
        format!("denied: {}", p(&link))
    );
    assert!(
        read_file(&grants, &p(&granted.join("missing")))
            .unwrap_err()
            .contains("No such file")
    );
    assert!(
        read_file(&Grants::default(), &p(&granted.join("a.txt")))
            .unwrap_err()
            .starts_with("denied: ")
    );
    let _ = std::fs::remove_dir_all(&base);
}
