//! `praetor tls ca create` and `praetor tls cert create` (Consul's `command/tls/*`): an agent CA
//! and agent certificates written to the current directory, with Consul's file names, SANs,
//! output and errors. The certificates themselves come from `praetor_tls::certgen`.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::{ArgAction, Args, Subcommand};
use praetor_tls::certgen::{CaOptions, CertKind, CertOptions, generate_ca, generate_cert};

use super::Outcome;

/// `praetor tls ...`
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Helpers for CAs
    #[command(subcommand)]
    Ca(TlsCaCommand),
    /// Helpers for certificates
    #[command(subcommand)]
    Cert(TlsCertCommand),
}

/// `praetor tls ca ...`
#[derive(Debug, Subcommand)]
pub enum TlsCaCommand {
    /// Create a new consul CA
    Create(CaCreateArgs),
}

/// `praetor tls cert ...`
#[derive(Debug, Subcommand)]
pub enum TlsCertCommand {
    /// Create a new certificate
    Create(CertCreateArgs),
}

/// `praetor tls ca create`
#[derive(Debug, Args)]
pub struct CaCreateArgs {
    /// Number of days the CA is valid for. Defaults to 1825 days (approximately 5 years).
    #[arg(long, value_name = "DAYS", default_value_t = 1825)]
    pub days: u32,
    /// The DNS domain of the cluster that agents are configured with. Defaults to consul. Only used when -name-constraint is set.
    #[arg(long, value_name = "DOMAIN", default_value = "consul")]
    pub domain: String,
    /// Enables X.509 name constraints for the CA: it only signs certificates for localhost, -domain and -additional-name-constraint.
    #[arg(long = "name-constraint", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub name_constraint: bool,
    /// Add name constraints for the CA (repeatable). Only used in combination with -name-constraint.
    #[arg(long = "additional-name-constraint", value_name = "NAME")]
    pub additional_name_constraint: Vec<String>,
    /// Common Name of CA. Defaults to Consul Agent CA.
    #[arg(long = "common-name", value_name = "NAME", default_value = "")]
    pub common_name: String,
}

/// `praetor tls cert create`
#[derive(Debug, Args)]
pub struct CertCreateArgs {
    /// Provide path to the ca. Defaults to #DOMAIN#-agent-ca.pem.
    #[arg(long, value_name = "PATH", default_value = "#DOMAIN#-agent-ca.pem")]
    pub ca: String,
    /// Provide path to the key. Defaults to #DOMAIN#-agent-ca-key.pem.
    #[arg(long, value_name = "PATH", default_value = "#DOMAIN#-agent-ca-key.pem")]
    pub key: String,
    /// Generate server certificate.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub server: bool,
    /// Generate client certificate.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub client: bool,
    /// Generate cli certificate.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub cli: bool,
    /// When generating a server cert and this is set an additional dns name is included of the form <node>.server.<datacenter>.<domain>.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub node: String,
    /// Provide number of days the certificate is valid for from now on. Defaults to 1 year.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub days: u32,
    /// Provide the datacenter. Matters only for -server certificates. Defaults to dc1.
    #[arg(long, value_name = "DC", default_value = "dc1")]
    pub dc: String,
    /// Provide the domain. Matters only for -server certificates.
    #[arg(long, value_name = "DOMAIN", default_value = "consul")]
    pub domain: String,
    /// Provide an additional dnsname for Subject Alternative Names. localhost is always included. This flag may be provided multiple times.
    #[arg(long = "additional-dnsname", value_name = "NAME")]
    pub additional_dnsname: Vec<String>,
    /// Provide an additional ipaddress for Subject Alternative Names. 127.0.0.1 is always included. This flag may be provided multiple times.
    #[arg(long = "additional-ipaddress", value_name = "IP")]
    pub additional_ipaddress: Vec<String>,
}

/// Runs a `tls` subcommand in the current directory.
pub fn run(cmd: &TlsCommand) -> Outcome {
    let dir =
        std::env::current_dir().map_err(|e| anyhow!("Error getting current directory: {e}"))?;
    let mut out = std::io::stdout().lock();
    match cmd {
        TlsCommand::Ca(TlsCaCommand::Create(args)) => ca_create(&dir, args, &mut out),
        TlsCommand::Cert(TlsCertCommand::Create(args)) => cert_create(&dir, args, &mut out),
    }
}

/// `tls ca create` in `dir`: writes `<domain>-agent-ca.pem` and `<domain>-agent-ca-key.pem`.
pub fn ca_create(dir: &Path, args: &CaCreateArgs, out: &mut dyn Write) -> Outcome {
    let cert_name = format!("{}-agent-ca.pem", args.domain);
    let key_name = format!("{}-agent-ca-key.pem", args.domain);
    for name in [&cert_name, &key_name] {
        if dir.join(name).exists() {
            return Err(anyhow!("{name} already exists."));
        }
    }
    let ca = generate_ca(&CaOptions {
        days: args.days,
        domain: args.domain.clone(),
        name_constraint: args.name_constraint,
        additional_name_constraints: args.additional_name_constraint.clone(),
        common_name: Some(args.common_name.clone()).filter(|n| !n.is_empty()),
    })?;
    write_new(&dir.join(&cert_name), &ca.cert_pem, 0o666)?;
    say(out, &format!("==> Saved {cert_name}"))?;
    write_new(&dir.join(&key_name), &ca.key_pem, 0o600)?;
    say(out, &format!("==> Saved {key_name}"))?;
    Ok(0)
}

/// `tls cert create` in `dir`: writes `<dc>-<kind>-<domain>-<n>.pem` and `...-<n>-key.pem` with
/// the first free `n`.
pub fn cert_create(dir: &Path, args: &CertCreateArgs, out: &mut dyn Write) -> Outcome {
    if args.ca.is_empty() {
        return Err(anyhow!("Please provide the ca"));
    }
    if args.key.is_empty() {
        return Err(anyhow!("Please provide the key"));
    }
    let kind = match (args.server, args.client, args.cli) {
        (true, false, false) => CertKind::Server,
        (false, true, false) => CertKind::Client,
        (false, false, true) => CertKind::Cli,
        _ => return Err(anyhow!("Please provide either -server, -client, or -cli")),
    };
    if !args.node.is_empty() && kind != CertKind::Server {
        return Err(anyhow!("-node requires -server"));
    }
    let mut additional_ips = Vec::new();
    for ip in args.additional_ipaddress.iter().map(|i| i.trim()) {
        if ip.is_empty() {
            continue;
        }
        let parsed: IpAddr = ip
            .parse()
            .map_err(|_| anyhow!("Invalid IP address: {ip}"))?;
        additional_ips.push(parsed);
    }
    let opts = CertOptions {
        kind,
        datacenter: args.dc.clone(),
        domain: args.domain.clone(),
        node: Some(args.node.clone()).filter(|n| !n.is_empty()),
        days: args.days,
        additional_dns_names: args.additional_dnsname.clone(),
        additional_ips,
    };

    let (cert_name, key_name) = free_names(dir, &opts.file_prefix())?;
    let ca_file = args.ca.replacen("#DOMAIN#", &args.domain, 1);
    let key_file = args.key.replacen("#DOMAIN#", &args.domain, 1);
    let ca_pem = std::fs::read_to_string(dir.join(&ca_file))
        .map_err(|e| anyhow!("Error reading CA: open {ca_file}: {e}"))?;
    let key_pem = std::fs::read_to_string(dir.join(&key_file))
        .map_err(|e| anyhow!("Error reading CA key: open {key_file}: {e}"))?;

    if kind == CertKind::Server {
        say(
            out,
            "==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.",
        )?;
    }
    say(out, &format!("==> Using {ca_file} and {key_file}"))?;
    let pair = generate_cert(&ca_pem, &key_pem, &opts)?;
    write_new(&dir.join(&cert_name), &pair.cert_pem, 0o666)?;
    say(out, &format!("==> Saved {cert_name}"))?;
    write_new(&dir.join(&key_name), &pair.key_pem, 0o600)?;
    say(out, &format!("==> Saved {key_name}"))?;
    Ok(0)
}

/// `<prefix>-<n>.pem` / `<prefix>-<n>-key.pem` for the first `n` where neither exists.
fn free_names(dir: &Path, prefix: &str) -> anyhow::Result<(String, String)> {
    for i in 0..=10_000 {
        let cert = format!("{prefix}-{i}.pem");
        let key = format!("{prefix}-{i}-key.pem");
        if !dir.join(&cert).exists() && !dir.join(&key).exists() {
            return Ok((cert, key));
        }
    }
    Err(anyhow!(
        "Could not find a filename that doesn't already exist"
    ))
}

fn say(out: &mut dyn Write, line: &str) -> anyhow::Result<()> {
    writeln!(out, "{line}").map_err(|e| anyhow!("Error writing output: {e}"))
}

/// Creates `path` (never overwriting) with `text` and Unix permissions `mode`.
fn write_new(path: &PathBuf, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if let Err(e) = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
    {
        let _ = std::fs::remove_file(path);
        return Err(anyhow!("{}: {e}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use webpki::{EndEntityCert, KeyUsage};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let path =
                std::env::temp_dir().join(format!("praetor-tls-cli-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("mkdir");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ca_args() -> CaCreateArgs {
        CaCreateArgs {
            days: 1825,
            domain: "consul".into(),
            name_constraint: false,
            additional_name_constraint: Vec::new(),
            common_name: String::new(),
        }
    }

    fn cert_args() -> CertCreateArgs {
        CertCreateArgs {
            ca: "#DOMAIN#-agent-ca.pem".into(),
            key: "#DOMAIN#-agent-ca-key.pem".into(),
            server: false,
            client: false,
            cli: false,
            node: String::new(),
            days: 365,
            dc: "dc1".into(),
            domain: "consul".into(),
            additional_dnsname: Vec::new(),
            additional_ipaddress: Vec::new(),
        }
    }

    fn output(f: impl FnOnce(&mut Vec<u8>) -> Outcome) -> Result<String, String> {
        let mut out = Vec::new();
        match f(&mut out) {
            Ok(0) => Ok(String::from_utf8_lossy(&out).to_string()),
            Ok(code) => Err(format!("exit {code}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The certificate's DNS SANs, after checking it chains to the CA for `usage`.
    fn verified_names(dir: &Path, cert: &str, usage: KeyUsage) -> Vec<String> {
        let ca_pem = std::fs::read(dir.join("consul-agent-ca.pem")).expect("ca");
        let ca = CertificateDer::from_pem_slice(&ca_pem).expect("ca pem");
        let anchor = webpki::anchor_from_trusted_cert(&ca).expect("anchor");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).expect("rustls accepts the CA");
        let leaf_pem = std::fs::read(dir.join(cert)).expect("cert");
        let leaf = CertificateDer::from_pem_slice(&leaf_pem).expect("leaf pem");
        let ee = EndEntityCert::try_from(&leaf).expect("parse");
        let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        ee.verify_for_usage(algs.all, &[anchor], &[], UnixTime::now(), usage, None, None)
            .expect("chains to the CA");
        ee.valid_dns_names().map(str::to_string).collect()
    }

    fn valid_for(dir: &Path, cert: &str, name: &str) -> bool {
        let leaf_pem = std::fs::read(dir.join(cert)).expect("cert");
        let leaf = CertificateDer::from_pem_slice(&leaf_pem).expect("leaf pem");
        let ee = EndEntityCert::try_from(&leaf).expect("parse");
        let name = ServerName::try_from(name.to_string()).expect("name");
        ee.verify_is_valid_for_subject_name(&name).is_ok()
    }

    #[test]
    fn ca_and_certificates_with_consul_names_and_sans() {
        let dir = TempDir::new("sans");
        let d = dir.0.as_path();
        let out = output(|o| ca_create(d, &ca_args(), o)).expect("ca create");
        assert_eq!(
            out,
            "==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n"
        );
        let err = output(|o| ca_create(d, &ca_args(), o)).expect_err("no overwrite");
        assert_eq!(err, "consul-agent-ca.pem already exists.");

        let server = CertCreateArgs {
            server: true,
            node: "s1".into(),
            additional_dnsname: vec!["praetor.example".into()],
            additional_ipaddress: vec!["10.0.0.5".into()],
            ..cert_args()
        };
        let out = output(|o| cert_create(d, &server, o)).expect("server cert");
        assert!(
            out.starts_with("==> WARNING: Server Certificates grants authority to become a\n"),
            "{out}"
        );
        assert!(out.ends_with(
            "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n"
        ), "{out}");
        assert_eq!(
            verified_names(d, "dc1-server-consul-0.pem", KeyUsage::server_auth()),
            [
                "praetor.example",
                "s1.server.dc1.consul",
                "server.dc1.consul",
                "localhost"
            ]
        );
        verified_names(d, "dc1-server-consul-0.pem", KeyUsage::client_auth());
        assert!(valid_for(d, "dc1-server-consul-0.pem", "127.0.0.1"));
        assert!(valid_for(d, "dc1-server-consul-0.pem", "10.0.0.5"));
        assert!(!valid_for(
            d,
            "dc1-server-consul-0.pem",
            "server.dc2.consul"
        ));
        let key = std::fs::metadata(d.join("dc1-server-consul-0-key.pem")).expect("key");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o077,
            0
        );

        // The next free index.
        let out = output(|o| {
            cert_create(
                d,
                &CertCreateArgs {
                    server: true,
                    ..cert_args()
                },
                o,
            )
        })
        .expect("2nd");
        assert!(out.contains("==> Saved dc1-server-consul-1.pem\n"), "{out}");

        let client = CertCreateArgs {
            client: true,
            dc: "dc2".into(),
            ..cert_args()
        };
        let out = output(|o| cert_create(d, &client, o)).expect("client cert");
        assert_eq!(
            out,
            "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n==> Saved dc2-client-consul-0.pem\n==> Saved dc2-client-consul-0-key.pem\n"
        );
        assert_eq!(
            verified_names(d, "dc2-client-consul-0.pem", KeyUsage::client_auth()),
            ["client.dc2.consul", "localhost"]
        );
        assert!(!valid_for(
            d,
            "dc2-client-consul-0.pem",
            "server.dc2.consul"
        ));
        assert!(valid_for(d, "dc2-client-consul-0.pem", "127.0.0.1"));

        output(|o| {
            cert_create(
                d,
                &CertCreateArgs {
                    cli: true,
                    ..cert_args()
                },
                o,
            )
        })
        .expect("cli cert");
        assert_eq!(
            verified_names(d, "dc1-cli-consul-0.pem", KeyUsage::client_auth()),
            ["cli.dc1.consul", "localhost"]
        );
        assert!(!valid_for(d, "dc1-cli-consul-0.pem", "127.0.0.1"));
    }

    #[test]
    fn consul_errors() {
        let dir = TempDir::new("errors");
        let d = dir.0.as_path();
        let err = |args: CertCreateArgs| output(|o| cert_create(d, &args, o)).expect_err("error");
        assert_eq!(
            err(cert_args()),
            "Please provide either -server, -client, or -cli"
        );
        assert_eq!(
            err(CertCreateArgs {
                server: true,
                client: true,
                ..cert_args()
            }),
            "Please provide either -server, -client, or -cli"
        );
        assert_eq!(
            err(CertCreateArgs {
                client: true,
                node: "n".into(),
                ..cert_args()
            }),
            "-node requires -server"
        );
        assert_eq!(
            err(CertCreateArgs {
                ca: String::new(),
                ..cert_args()
            }),
            "Please provide the ca"
        );
        let e = err(CertCreateArgs {
            server: true,
            ..cert_args()
        });
        assert!(
            e.starts_with("Error reading CA: open consul-agent-ca.pem: "),
            "{e}"
        );
        output(|o| ca_create(d, &ca_args(), o)).expect("ca");
        let e = err(CertCreateArgs {
            server: true,
            key: "missing.pem".into(),
            ..cert_args()
        });
        assert!(
            e.starts_with("Error reading CA key: open missing.pem: "),
            "{e}"
        );
        let e = err(CertCreateArgs {
            server: true,
            additional_ipaddress: vec!["bogus".into()],
            ..cert_args()
        });
        assert_eq!(e, "Invalid IP address: bogus");
        assert!(
            !d.join("dc1-server-consul-0.pem").exists(),
            "nothing written on errors"
        );

        // A custom domain names the CA files, and #DOMAIN# follows it.
        let custom = CaCreateArgs {
            domain: "example".into(),
            name_constraint: true,
            ..ca_args()
        };
        let out = output(|o| ca_create(d, &custom, o)).expect("ca");
        assert!(out.contains("==> Saved example-agent-ca.pem"));
        let out = output(|o| {
            cert_create(
                d,
                &CertCreateArgs {
                    server: true,
                    domain: "example".into(),
                    ..cert_args()
                },
                o,
            )
        })
        .expect("cert");
        assert!(
            out.contains("==> Using example-agent-ca.pem and example-agent-ca-key.pem"),
            "{out}"
        );
        assert!(out.contains("==> Saved dc1-server-example-0.pem"), "{out}");
        // A name-constrained CA refuses names outside its domain.
        let e = err(CertCreateArgs {
            server: true,
            domain: "example".into(),
            additional_dnsname: vec!["other.org".into()],
            ..cert_args()
        });
        assert!(e.contains("does not verify against the CA"), "{e}");
    }
}

#[cfg(test)]
mod parse_tests {

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Cli {
        crate::cli::parse_for_test(args)
    }

    #[test]
    fn consul_style_flags_parse() {
        let Command::Tls(TlsCommand::Cert(TlsCertCommand::Create(c))) = parse(&[
            "tls",
            "cert",
            "create",
            "-server",
            "-dc=dc2",
            "-node",
            "s1",
            "-additional-dnsname=a.example",
            "-additional-dnsname",
            "b.example",
            "-additional-ipaddress=10.0.0.1",
            "-days=30",
        ])
        .command
        else {
            panic!("expected tls cert create");
        };
        assert!(c.server && !c.client && !c.cli);
        assert_eq!((c.dc.as_str(), c.node.as_str(), c.days), ("dc2", "s1", 30));
        assert_eq!(c.additional_dnsname, ["a.example", "b.example"]);
        assert_eq!(c.additional_ipaddress, ["10.0.0.1"]);
        assert_eq!(c.ca, "#DOMAIN#-agent-ca.pem");
        assert_eq!(c.domain, "consul");

        let Command::Tls(TlsCommand::Ca(TlsCaCommand::Create(a))) = parse(&[
            "tls",
            "ca",
            "create",
            "-domain=example",
            "-name-constraint",
            "-common-name",
            "My CA",
        ])
        .command
        else {
            panic!("expected tls ca create");
        };
        assert_eq!((a.domain.as_str(), a.days), ("example", 1825));
        assert!(a.name_constraint);
        assert_eq!(a.common_name, "My CA");
    }
}
