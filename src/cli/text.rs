//! Text for people: counted nouns and aligned columns.

/// `1 feed`, `2 feeds`, `1 entry`, `3 entries`, `0 partners`.
pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        return format!("1 {word}");
    }
    let consonant_y = word.len() > 1 && word.ends_with('y') && !word[..word.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if consonant_y { format!("{n} {}ies", &word[..word.len() - 1]) } else { format!("{n} {word}s") }
}

/// Rows printed in aligned columns, two spaces apart; the last column is not padded.
#[derive(Debug, Default)]
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub(super) fn with_header(header: &[&str]) -> Self {
        Self { rows: vec![header.iter().map(|h| (*h).to_owned()).collect()] }
    }

    /// Adds a row.
    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The lines, each without trailing spaces.
    pub(super) fn lines(&self) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> =
            (0..columns).map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
        self.rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row.iter().enumerate().map(|(c, cell)| format!("{cell:<width$}", width = widths[c])).collect();
                cells.join("  ").trim_end().to_owned()
            })
            .collect()
    }

    /// Prints the lines.
    pub(super) fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_nouns() {
        assert_eq!(plural(1, "check"), "1 check");
        assert_eq!(plural(0, "check"), "0 checks");
        assert_eq!(plural(3, "entry"), "3 entries");
        assert_eq!(plural(2, "day"), "2 days");
        assert_eq!(plural(2, "synthetic check"), "2 synthetic checks");
    }

    #[test]
    fn columns_line_up_and_the_last_one_is_not_padded() {
        let mut t = Table::with_header(&["id", "sink", "key"]);
        t.row(vec!["1".into(), "pagerduty".into(), "incident:1:open:pagerduty".into()]);
        t.row(vec!["12".into(), "slack".into(), "digest".into()]);
        assert_eq!(t.lines(), ["id  sink       key", "1   pagerduty  incident:1:open:pagerduty", "12  slack      digest"]);
    }
}
