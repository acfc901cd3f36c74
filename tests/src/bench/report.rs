//! The results table: one row per metric and peer, with every run's value of praetor and of the
//! peer (etcd, bind9, knot), rendered as `metric | praetor | peer | peer's value | ratio`, each
//! value cell being the median of the runs with their spread (`median unit (min-max)`), and the
//! ratio that of the medians.

/// Which direction is better for a metric (said in the ratio column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One system's values of one metric: a sample per successful run, a count of failed runs, and
/// why nothing was measured when the system was skipped or did not start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub samples: Vec<f64>,
    pub failed: usize,
    pub why: Option<String>,
}

impl Cell {
    /// Adds one run's value (`Err`: the run failed).
    pub fn push(&mut self, v: Result<f64, String>) {
        match v {
            Ok(x) if x.is_finite() => self.samples.push(x),
            _ => self.failed += 1,
        }
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median of the samples (the mean of the middle two for an even count).
    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// `(min, max)` of the samples.
    pub fn range(&self) -> Option<(f64, f64)> {
        let v = self.sorted();
        Some((*v.first()?, *v.last()?))
    }

    fn render(&self, unit: &str, decimals: usize) -> String {
        let Some(m) = self.median() else {
            return match (&self.why, self.failed) {
                (Some(why), _) => why.clone(),
                (None, 0) => "-".into(),
                (None, n) => format!("failed ({n} runs)"),
            };
        };
        let mut s = format!("{m:.decimals$} {unit}").trim_end().to_string();
        if let Some((lo, hi)) = self.range()
            && self.samples.len() > 1
        {
            s.push_str(&format!(" ({lo:.decimals$}-{hi:.decimals$})"));
        }
        if self.failed > 0 {
            s.push_str(&format!(
                " [{} of {} runs failed]",
                self.failed,
                self.failed + self.samples.len()
            ));
        }
        s
    }
}

/// One metric of the table against one peer.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    /// The system praetor is compared with on this row (`etcd`, `bind9`, `knot`).
    pub peer: &'static str,
    /// How the peer was run, shown after its name (`gRPC, 4 conns`).
    pub peer_detail: String,
    pub praetor: Cell,
    pub other: Cell,
    pub unit: &'static str,
    pub decimals: usize,
    pub better: Better,
}

impl Row {
    pub fn new(
        metric: impl Into<String>,
        peer: &'static str,
        unit: &'static str,
        decimals: usize,
        better: Better,
    ) -> Row {
        Row {
            metric: metric.into(),
            peer,
            peer_detail: String::new(),
            praetor: Cell::default(),
            other: Cell::default(),
            unit,
            decimals,
            better,
        }
    }

    /// praetor's median / the peer's median, when both were measured and the peer's is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.praetor.median(), self.other.median()) {
            (Some(p), Some(o)) if o > 0.0 => Some(p / o),
            _ => None,
        }
    }

    fn peer_cell(&self) -> String {
        if self.peer_detail.is_empty() {
            self.peer.to_string()
        } else {
            format!("{} ({})", self.peer, self.peer_detail)
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
    let header = [
        "metric",
        "praetor",
        "peer",
        "peer's value",
        "ratio of medians praetor/peer",
    ]
    .map(String::from);
    let mut cells: Vec<[String; 5]> = vec![header];
    cells.extend(rows.iter().map(|r| {
        [
            r.metric.clone(),
            r.praetor.render(r.unit, r.decimals),
            r.peer_cell(),
            r.other.render(r.unit, r.decimals),
            r.ratio_cell(),
        ]
    }));
    let mut width = [0usize; 5];
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String; 5]| -> String {
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
    fn medians_spreads_and_failures() {
        let mut c = Cell::default();
        assert_eq!(c.median(), None);
        for v in [3.0, 1.0, 2.0] {
            c.push(Ok(v));
        }
        assert_eq!(c.median(), Some(2.0));
        assert_eq!(c.range(), Some((1.0, 3.0)));
        c.push(Ok(10.0));
        assert_eq!(c.median(), Some(2.5));
        c.push(Err("boom".into()));
        assert_eq!(c.render("ms", 1), "2.5 ms (1.0-10.0) [1 of 5 runs failed]");
        let mut one = Cell::default();
        one.push(Ok(7.0));
        assert_eq!(one.render("MiB", 1), "7.0 MiB");
        let skipped = Cell {
            why: Some("skipped".into()),
            ..Cell::default()
        };
        assert_eq!(skipped.render("ms", 1), "skipped");
    }

    #[test]
    fn renders_values_missing_cells_and_ratios() {
        let mut a = Row::new("PUT 64 clients", "etcd", "req/s", 0, Better::Higher);
        a.peer_detail = "gRPC, 4 conns".into();
        for (p, o) in [(2000.0, 1000.0), (2100.0, 900.0), (1900.0, 1100.0)] {
            a.praetor.push(Ok(p));
            a.other.push(Ok(o));
        }
        let mut b = Row::new("PUT 64 clients p99", "etcd", "ms", 2, Better::Lower);
        b.praetor.push(Ok(1.5));
        b.other.why = Some("skipped".into());
        let t = render(&[a.clone(), b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("| metric "), "{t}");
        assert!(
            lines[2].contains("2000 req/s (1900-2100)")
                && lines[2].contains("etcd (gRPC, 4 conns)")
                && lines[2].contains("1000 req/s (900-1100)")
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
        assert_eq!(bars(lines[0]).len(), 6);
        assert_eq!(bars(lines[0])[..5], bars(lines[2])[..5]);
        assert_eq!(a.ratio(), Some(2.0));
    }
}
