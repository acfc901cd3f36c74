//! `praetor kv get | put | delete`: the KV store with Consul's flags, messages and output.

use std::io::{Read, Write};

use anyhow::anyhow;
use base64::Engine as _;
use serde::Deserialize;

use super::Outcome;
use crate::cli::{KvDeleteArgs, KvGetArgs, KvPutArgs};
use crate::client::{Client, escape_path, parse_bool_body};
use crate::table::key_value_block;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One entry of `/v1/kv/<key>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvPair {
    pub key: String,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
    #[serde(default)]
    pub lock_index: u64,
    #[serde(default)]
    pub flags: u64,
    /// Base64 in the JSON; `null` for an empty value.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
}

impl KvPair {
    /// The decoded value (an undecodable value is shown as sent).
    pub fn bytes(&self) -> Vec<u8> {
        match &self.value {
            Some(v) => B64
                .decode(v.as_bytes())
                .unwrap_or_else(|_| v.as_bytes().to_vec()),
            None => Vec::new(),
        }
    }

    fn shown_value(&self, base64: bool) -> Vec<u8> {
        if base64 {
            B64.encode(self.bytes()).into_bytes()
        } else {
            self.bytes()
        }
    }
}

/// Consul's `kv get -detailed` block (no trailing newline).
pub fn detailed(pair: &KvPair, base64: bool) -> String {
    let session = match pair.session.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    };
    key_value_block(&[
        ("CreateIndex", pair.create_index.to_string()),
        ("Flags", pair.flags.to_string()),
        ("Key", pair.key.clone()),
        ("LockIndex", pair.lock_index.to_string()),
        ("ModifyIndex", pair.modify_index.to_string()),
        ("Session", session),
        (
            "Value",
            String::from_utf8_lossy(&pair.shown_value(base64)).into_owned(),
        ),
    ])
}

/// `kv get -recurse` output: `key:value` lines, or detailed blocks separated by blank lines.
pub fn recurse_output(pairs: &[KvPair], detailed_view: bool, base64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        if detailed_view {
            out.extend_from_slice(detailed(pair, base64).as_bytes());
            out.push(b'\n');
            if i + 1 < pairs.len() {
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(pair.key.as_bytes());
            out.push(b':');
            out.extend_from_slice(&pair.shown_value(base64));
            out.push(b'\n');
        }
    }
    out
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

/// Consul strips one leading `/` (keys cannot start with one).
fn clean_key(key: Option<&str>) -> String {
    let key = key.unwrap_or("");
    key.strip_prefix('/').unwrap_or(key).to_string()
}

/// `praetor kv get`
pub fn get(args: &KvGetArgs) -> Outcome {
    let key = clean_key(args.key.as_deref());
    if key.is_empty() && !(args.recurse || args.keys) {
        return Err(anyhow!("Error! Missing KEY argument"));
    }
    let client = Client::from_args(&args.http);
    let path = format!("/v1/kv/{}", escape_path(&key));
    let query_err = |e| anyhow!("Error querying Consul agent: {e}");
    if args.keys {
        let body = client
            .get_optional(&path, &[("keys", ""), ("separator", &args.separator)])
            .map_err(query_err)?;
        let keys: Vec<String> = match body {
            Some(b) => client.decode(&path, &b).map_err(query_err)?,
            None => Vec::new(),
        };
        for k in keys {
            println!("{k}");
        }
        return Ok(0);
    }
    if args.recurse {
        let body = client
            .get_optional(&path, &[("recurse", "")])
            .map_err(query_err)?;
        let pairs: Vec<KvPair> = match body {
            Some(b) => client.decode(&path, &b).map_err(query_err)?,
            None => Vec::new(),
        };
        write_stdout(&recurse_output(&pairs, args.detailed, args.base64))?;
        return Ok(0);
    }
    let Some(body) = client.get_optional(&path, &[]).map_err(query_err)? else {
        return Err(anyhow!("Error! No key exists at: {key}"));
    };
    let pairs: Vec<KvPair> = client.decode(&path, &body).map_err(query_err)?;
    let Some(pair) = pairs.into_iter().next() else {
        return Err(anyhow!("Error! No key exists at: {key}"));
    };
    if args.detailed {
        println!("{}", detailed(&pair, args.base64));
    } else {
        let mut value = pair.shown_value(args.base64);
        value.push(b'\n');
        write_stdout(&value)?;
    }
    Ok(0)
}

/// The data to write: literal, `@file`, or `-` for stdin (Consul's `dataFromArgs`).
pub fn read_data(value: Option<&str>, stdin: &mut dyn Read) -> anyhow::Result<Vec<u8>> {
    let Some(data) = value else {
        return Ok(Vec::new());
    };
    super::load_data_source(data, stdin).map_err(|e| anyhow!("Error! {e}"))
}

/// `praetor kv put`
pub fn put(args: &KvPutArgs) -> Outcome {
    if !args.extra.is_empty() {
        return Err(anyhow!(
            "Error! Too many arguments (expected 1 or 2, got {})",
            2 + args.extra.len()
        ));
    }
    let key = clean_key(args.key.as_deref());
    if key.is_empty() {
        return Err(anyhow!("Error! Missing KEY argument"));
    }
    if (args.acquire || args.release) && args.session.as_deref().unwrap_or("").is_empty() {
        return Err(anyhow!(
            "Error! Missing -session (required with -acquire and -release)"
        ));
    }
    if args.cas && args.modify_index == 0 {
        return Err(anyhow!("Must specify -modify-index with -cas!"));
    }
    let mut data = read_data(args.value.as_deref(), &mut std::io::stdin())?;
    if args.base64 {
        data = B64
            .decode(&data)
            .map_err(|e| anyhow!("Error! Cannot base 64 decode data: {e}"))?;
    }
    let client = Client::from_args(&args.http);
    let path = format!("/v1/kv/{}", escape_path(&key));
    let flags = args.flags.to_string();
    let index = args.modify_index.to_string();
    let session = args.session.clone().unwrap_or_default();
    let mut query: Vec<(&str, &str)> = Vec::new();
    if args.flags != 0 {
        query.push(("flags", &flags));
    }
    if args.cas {
        query.push(("cas", &index));
        let body = client
            .put(&path, &query, Some(&data))
            .map_err(|e| anyhow!("Error! Did not write to {key}: {e}"))?;
        if !parse_bool_body(&body) {
            return Err(anyhow!("Error! Did not write to {key}: CAS failed"));
        }
        println!("Success! Data written to: {key}");
    } else if args.acquire {
        query.push(("acquire", &session));
        let body = client
            .put(&path, &query, Some(&data))
            .map_err(|e| anyhow!("Error! Failed writing data: {e}"))?;
        if !parse_bool_body(&body) {
            return Err(anyhow!("Error! Did not acquire lock"));
        }
        println!("Success! Lock acquired on: {key}");
    } else if args.release {
        query.push(("release", &session));
        let body = client
            .put(&path, &query, Some(&data))
            .map_err(|e| anyhow!("Error! Failed writing data: {e}"))?;
        if !parse_bool_body(&body) {
            return Err(anyhow!("Error! Did not release lock"));
        }
        println!("Success! Lock released on: {key}");
    } else {
        client
            .put(&path, &query, Some(&data))
            .map_err(|e| anyhow!("Error! Failed writing data: {e}"))?;
        println!("Success! Data written to: {key}");
    }
    Ok(0)
}

/// `praetor kv delete`
pub fn delete(args: &KvDeleteArgs) -> Outcome {
    let key = clean_key(args.key.as_deref());
    if key.is_empty() && !args.recurse {
        return Err(anyhow!("Error! Missing KEY argument"));
    }
    if args.recurse && args.cas {
        return Err(anyhow!("Cannot specify both -cas and -recurse!"));
    }
    if args.cas && args.modify_index == 0 {
        return Err(anyhow!("Must specify -modify-index with -cas!"));
    }
    if args.modify_index != 0 && !args.cas {
        return Err(anyhow!("Cannot specify -modify-index without -cas!"));
    }
    let client = Client::from_args(&args.http);
    let path = format!("/v1/kv/{}", escape_path(&key));
    if args.recurse {
        client
            .delete(&path, &[("recurse", "")])
            .map_err(|e| anyhow!("Error! Did not delete prefix {key}: {e}"))?;
        println!("Success! Deleted keys with prefix: {key}");
    } else if args.cas {
        let index = args.modify_index.to_string();
        let body = client
            .delete(&path, &[("cas", &index)])
            .map_err(|e| anyhow!("Error! Did not delete key {key}: {e}"))?;
        if !parse_bool_body(&body) {
            return Err(anyhow!("Error! Did not delete key {key}: CAS failed"));
        }
        println!("Success! Deleted key: {key}");
    } else {
        client
            .delete(&path, &[])
            .map_err(|e| anyhow!("Error deleting key {key}: {e}"))?;
        println!("Success! Deleted key: {key}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> KvPair {
        serde_json::from_value(serde_json::json!({
            "Key": "app/config", "CreateIndex": 12, "ModifyIndex": 15, "LockIndex": 0,
            "Flags": 42, "Value": "aGVsbG8=", "Session": ""
        }))
        .expect("valid pair")
    }

    #[test]
    fn detailed_block_matches_consul() {
        assert_eq!(
            detailed(&pair(), false),
            "CreateIndex      12\n\
             Flags            42\n\
             Key              app/config\n\
             LockIndex        0\n\
             ModifyIndex      15\n\
             Session          -\n\
             Value            hello"
        );
        assert!(detailed(&pair(), true).ends_with("Value            aGVsbG8="));
    }

    #[test]
    fn recurse_lines() {
        let mut second = pair();
        second.key = "app/empty".into();
        second.value = None;
        let out = recurse_output(&[pair(), second.clone()], false, false);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "app/config:hello\napp/empty:\n"
        );
        let out = recurse_output(&[pair(), second], true, false);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains("Value            hello\n\nCreateIndex"),
            "{text}"
        );
        assert!(text.ends_with("Value            \n"), "{text:?}");
    }

    #[test]
    fn data_sources() {
        let mut empty: &[u8] = b"";
        assert_eq!(read_data(Some("plain"), &mut empty).expect("ok"), b"plain");
        let mut stdin: &[u8] = b"from stdin";
        assert_eq!(read_data(Some("-"), &mut stdin).expect("ok"), b"from stdin");
        assert_eq!(read_data(None, &mut empty).expect("ok"), b"");
        let path = std::env::temp_dir().join(format!("praetor-kv-{}", std::process::id()));
        std::fs::write(&path, b"file data").expect("write");
        let arg = format!("@{}", path.display());
        assert_eq!(read_data(Some(&arg), &mut empty).expect("ok"), b"file data");
        let _ = std::fs::remove_file(&path);
        assert!(read_data(Some("@/nonexistent/x"), &mut empty).is_err());
    }

    #[test]
    fn leading_slash_is_stripped() {
        assert_eq!(clean_key(Some("/a/b")), "a/b");
        assert_eq!(clean_key(None), "");
    }
}
