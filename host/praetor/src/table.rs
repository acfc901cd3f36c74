//! Output formatting shared by commands: Consul's `columnize` tables and `k=v` lists.

use std::collections::BTreeMap;

/// Like Go's `columnize.SimpleFormat`: columns padded to their widest cell and separated by two
/// spaces; the last column is not padded and trailing spaces are trimmed. No final newline.
pub fn columnize(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < columns {
                let pad = widths[i] - cell.chars().count();
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines.join("\n")
}

/// `k1=v1<sep>k2=v2` with keys sorted (Consul's `mapToKV`).
pub fn map_to_kv<V: std::fmt::Display>(map: &BTreeMap<String, V>, sep: &str) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Go `tabwriter` with padding 6 over `key\tvalue` lines (Consul's `kv get -detailed`).
pub fn key_value_block(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 6;
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}{v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn columnize_pads_all_but_the_last_column() {
        let rows = vec![
            row(["Node", "Address", "Status"]),
            row(["a-long-name", "1.2.3.4:8301", "alive"]),
            row(["b", "10.0.0.1:8301", "failed"]),
        ];
        assert_eq!(
            columnize(&rows),
            "Node         Address        Status\n\
             a-long-name  1.2.3.4:8301   alive\n\
             b            10.0.0.1:8301  failed"
        );
    }

    #[test]
    fn columnize_trims_empty_trailing_cells() {
        let rows = vec![row(["a", "b", "c"]), row(["x", "", ""])];
        assert_eq!(columnize(&rows), "a  b  c\nx");
        assert_eq!(columnize(&[]), "");
    }

    #[test]
    fn kv_helpers() {
        let m = BTreeMap::from([("wan".to_string(), "2"), ("lan".to_string(), "1")]);
        assert_eq!(map_to_kv(&m, ", "), "lan=1, wan=2");
        assert_eq!(
            key_value_block(&[("Key", "a".into()), ("CreateIndex", "7".into())]),
            "Key              a\nCreateIndex      7"
        );
    }
}
