//! The results table: one row per metric with praetor's value, the baseline's (etcd or bind9),
//! and their ratio, rendered as an aligned `metric | praetor | etcd/bind9 | ratio` table.

/// Which direction is better for a metric (said in the ratio column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One metric of the table. A value is `Err(reason)` when it was not measured.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub praetor: Result<f64, String>,
    pub other: Result<f64, String>,
    pub unit: &'static str,
    pub decimals: usize,
    pub better: Better,
}

impl Row {
    pub fn new(
        metric: impl Into<String>,
        unit: &'static str,
        decimals: usize,
        better: Better,
    ) -> Row {
        let missing = || Err("-".to_string());
        Row {
            metric: metric.into(),
            praetor: missing(),
            other: missing(),
            unit,
            decimals,
            better,
        }
    }

    /// praetor / baseline, when both were measured and the baseline is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.praetor, &self.other) {
            (Ok(p), Ok(o)) if *o > 0.0 => Some(p / o),
            _ => None,
        }
    }

    fn cell(&self, v: &Result<f64, String>) -> String {
        match v {
            Ok(x) => format!("{x:.prec$} {}", self.unit, prec = self.decimals)
                .trim_end()
                .to_string(),
            Err(why) => why.clone(),
        }
    }

    fn ratio_cell(&self) -> String {
        match self.ratio() {
            Some(r) => {
                let hint = match self.better {
                    Better::Higher => "higher is better",
                    Better::Lower => "lower is better",
                };
                format!("{r:.2}x ({hint})")
            }
            None => "-".into(),
        }
    }
}

/// Renders `rows` as a pipe table with aligned columns.
pub fn render(rows: &[Row]) -> String {
    let header = ["metric", "praetor", "etcd/bind9", "ratio praetor/other"].map(String::from);
    let mut cells: Vec<[String; 4]> = vec![header];
    cells.extend(rows.iter().map(|r| {
        [
            r.metric.clone(),
            r.cell(&r.praetor),
            r.cell(&r.other),
            r.ratio_cell(),
        ]
    }));
    let mut width = [0usize; 4];
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String; 4]| -> String {
        let parts: Vec<String> = row
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", parts.join(" | ")).trim_end().to_string()
    };
    let mut out = line(&cells[0]);
    out.push('\n');
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in &cells[1..] {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_missing_cells_and_ratios() {
        let mut a = Row::new("PUT 64 clients", "req/s", 0, Better::Higher);
        a.praetor = Ok(2000.0);
        a.other = Ok(1000.0);
        let mut b = Row::new("PUT 64 clients p99", "ms", 2, Better::Lower);
        b.praetor = Ok(1.5);
        b.other = Err("skipped".into());
        let t = render(&[a.clone(), b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("| metric "), "{t}");
        assert!(
            lines[2].contains("2000 req/s")
                && lines[2].contains("1000 req/s")
                && lines[2].contains("2.00x (higher is better)"),
            "{t}"
        );
        assert!(
            lines[3].contains("1.50 ms") && lines[3].contains("skipped"),
            "{t}"
        );
        assert_eq!(lines[3].rsplit('|').nth(1).map(str::trim), Some("-"), "{t}");
        // All rows have their column separators at the same places.
        let bars = |l: &str| {
            l.char_indices()
                .filter(|(_, c)| *c == '|')
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        assert_eq!(bars(lines[0]).len(), 5);
        assert_eq!(bars(lines[0])[..4], bars(lines[2])[..4]);
        assert_eq!(a.ratio(), Some(2.0));
    }
}
