//! Go-style argv rewrite: Consul's single-dash long flags (`-http-addr=x`, `-wan`) become clap's
//! `--http-addr=x`, `--wan` before parsing.

use std::ffi::OsString;

use clap::{Arg, Command};

/// Rewrites `-name[=value]` to `--name[=value]` when `name` (more than one character) is a long
/// flag of the (sub)command being parsed at that point, or an unknown name starting with a letter
/// (so clap reports `--name`, not `-n`). Left alone: `--` forms, short flags (`-h`), a lone `-`
/// (stdin), values of flags that take one, numbers such as `-1`, unknown names where the command
/// takes dash-leading positional values (`kv put KEY -abc`), and everything after `--`.
/// Rewrites clap's rendered help so long flags read as Consul spells them (`-http-addr`,
/// `-help`), matching what `rewrite` accepts.
pub fn single_dash_help(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut rest = help;
    while let Some(at) = rest.find("--") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let starts_word = before
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || c == '[' || c == '(' || c == ',');
        let names_flag = after[2..].starts_with(|c: char| c.is_ascii_lowercase());
        out.push_str(if starts_word && names_flag { "-" } else { "--" });
        rest = &after[2..];
    }
    out.push_str(rest);
    out
}

pub fn rewrite(cmd: &Command, args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut current = &cmd;
    let mut args = args.into_iter();
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    let mut value_expected = false;
    let mut passthrough = false;
    for arg in args {
        if passthrough || value_expected {
            value_expected = false;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, has_value) = split_value(long);
            if let Some(a) = find_long(current, name) {
                value_expected = !has_value && takes_separate_value(a);
            }
            out.push(arg);
            continue;
        }
        if let Some(flag) = text.strip_prefix('-')
            && !flag.is_empty()
        {
            let (name, has_value) = split_value(flag);
            if name.chars().count() > 1 {
                if let Some(a) = find_long(current, name) {
                    value_expected = !has_value && takes_separate_value(a);
                    out.push(OsString::from(format!("-{text}")));
                    continue;
                }
                // An unknown flag: let clap report `--name` rather than `-n`, unless this
                // command takes dash-leading positional values (`kv put KEY -value`).
                if name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !takes_hyphen_positionals(current)
                {
                    out.push(OsString::from(format!("-{text}")));
                    continue;
                }
            }
            out.push(arg);
            continue;
        }
        if let Some(sub) = current.find_subcommand(text) {
            current = sub;
        }
        out.push(arg);
    }
    out
}

fn split_value(flag: &str) -> (&str, bool) {
    match flag.split_once('=') {
        Some((name, _)) => (name, true),
        None => (flag, false),
    }
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    })
}

fn takes_hyphen_positionals(cmd: &Command) -> bool {
    cmd.get_arguments()
        .any(|a| a.is_positional() && a.is_allow_hyphen_values_set())
}

/// Whether the next argv element is this flag's value (`-datacenter dc2`).
fn takes_separate_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
        && !arg.is_require_equals_set()
        && arg.get_num_args().is_none_or(|r| r.min_values() > 0)
}

#[cfg(test)]
mod help_tests {
    #[test]
    fn long_flags_get_one_dash_in_help() {
        let help = "  -h, --help   Print help\n      --http-addr <ADDR>  the agent\n  [--stale[=<STALE>]] a--b --\n";
        assert_eq!(
            super::single_dash_help(help),
            "  -h, -help   Print help\n      -http-addr <ADDR>  the agent\n  [-stale[=<STALE>]] a--b --\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn rw(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("praetor")
            .chain(args.iter().copied())
            .map(OsString::from);
        rewrite(&Cli::command(), argv)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().expect("utf-8"))
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            rw(&["members", "-wan", "-http-addr=127.0.0.1:8500"]),
            ["members", "--wan", "--http-addr=127.0.0.1:8500"]
        );
        assert_eq!(
            rw(&["kv", "get", "-recurse", "-datacenter", "dc2", "app/"]),
            ["kv", "get", "--recurse", "--datacenter", "dc2", "app/"]
        );
        assert_eq!(
            rw(&["agent", "-dev", "-retry-join", "a", "-retry-join=b"]),
            ["agent", "--dev", "--retry-join", "a", "--retry-join=b"]
        );
    }

    #[test]
    fn double_dash_short_and_values_are_left_alone() {
        assert_eq!(rw(&["members", "--wan", "-h"]), ["members", "--wan", "-h"]);
        // A flag value that looks like a flag is not touched.
        assert_eq!(
            rw(&["kv", "get", "-datacenter", "-wan", "k"]),
            ["kv", "get", "--datacenter", "-wan", "k"]
        );
        assert_eq!(
            rw(&["agent", "-http-port", "-1"]),
            ["agent", "--http-port", "-1"]
        );
        // Unknown names and stdin markers stay as typed.
        assert_eq!(
            rw(&["kv", "put", "k", "-some-value"]),
            ["kv", "put", "k", "-some-value"]
        );
        assert_eq!(rw(&["kv", "put", "k", "-"]), ["kv", "put", "k", "-"]);
        // Unknown names are rewritten so clap names them whole.
        assert_eq!(rw(&["members", "-recurse"]), ["members", "--recurse"]);
    }

    #[test]
    fn nothing_is_rewritten_after_separator() {
        assert_eq!(
            rw(&["kv", "put", "-flags=3", "--", "k", "-cas"]),
            ["kv", "put", "--flags=3", "--", "k", "-cas"]
        );
    }

    #[test]
    fn rewritten_argv_parses() {
        let argv = [
            "praetor",
            "kv",
            "put",
            "-cas",
            "-modify-index=5",
            "-datacenter",
            "dc2",
            "config/x",
            "-",
        ]
        .map(OsString::from);
        let cli = Cli::try_parse_from(rewrite(&Cli::command(), argv)).expect("parses");
        let crate::cli::Command::Kv(crate::cli::KvCommand::Put(put)) = cli.command else {
            panic!("expected kv put");
        };
        assert!(put.cas);
        assert_eq!(put.modify_index, 5);
        assert_eq!(put.http.datacenter.as_deref(), Some("dc2"));
        assert_eq!(put.key.as_deref(), Some("config/x"));
        assert_eq!(put.value.as_deref(), Some("-"));
    }
}
