//! Formatting for alert texts in Bahasa Indonesia and English.

/// Rupiah as written in Indonesia: `Rp 150.000` (dot as thousands separator).
pub fn rupiah(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
    out.push_str("Rp ");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::rupiah;

    #[test]
    fn rupiah_uses_dots() {
        assert_eq!(rupiah(0), "Rp 0");
        assert_eq!(rupiah(999), "Rp 999");
        assert_eq!(rupiah(1000), "Rp 1.000");
        assert_eq!(rupiah(150_000), "Rp 150.000");
        assert_eq!(rupiah(1_950_000), "Rp 1.950.000");
    }
}
