//! The scorecard as one self-contained HTML page: inline CSS, inline SVG charts,
//! no network. Bahasa Indonesia first; a button switches the labels to English.

use std::fmt::Write;

use super::scorecard::{ScoreRow, Scorecard};
use crate::alerts::rupiah;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A label in both languages; CSS shows one.
fn l(id: &str, en: &str) -> String {
    format!(
        r#"<span class="id">{}</span><span class="en">{}</span>"#,
        esc(id),
        esc(en)
    )
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map(|x| format!("{x:.1}{unit}"))
        .unwrap_or_else(|| "–".into())
}

/// Horizontal bars: SLA compliance per office, 0–100 %.
fn compliance_chart(offices: &[ScoreRow]) -> String {
    let rows: Vec<&ScoreRow> = offices
        .iter()
        .filter(|r| r.sla_compliance_pct.is_some())
        .collect();
    let (label_w, bar_w, row_h) = (230.0, 520.0, 24.0);
    let h = row_h * rows.len() as f64 + 40.0;
    let mut s = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#,
        w = label_w + bar_w + 70.0
    );
    for pct in [0, 25, 50, 75, 100] {
        let x = label_w + bar_w * f64::from(pct) / 100.0;
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="0" x2="{x}" y2="{y}" stroke="#ddd"/><text x="{x}" y="{t}" font-size="11" text-anchor="middle" fill="#666">{pct}%</text>"##,
            y = h - 30.0,
            t = h - 14.0
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let v = r.sla_compliance_pct.unwrap_or(0.0);
        let y = row_h * i as f64 + 4.0;
        let colour = if v >= 90.0 {
            "#2e7d32"
        } else if v >= 75.0 {
            "#f9a825"
        } else {
            "#c62828"
        };
        let _ = write!(
            s,
            r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end">{name}</text><rect x="{label_w}" y="{y}" width="{bw:.1}" height="{bh}" fill="{colour}"><title>{name}: {v:.1}%</title></rect><text x="{vx:.1}" y="{ty}" font-size="11">{v:.1}%</text>"##,
            lx = label_w - 8.0,
            ty = y + 14.0,
            name = esc(&r.office_id),
            bw = bar_w * v / 100.0,
            bh = row_h - 8.0,
            vx = label_w + bar_w * v / 100.0 + 4.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars: Rupiah above tariff per day.
fn excess_chart(daily: &[(String, i64)]) -> String {
    let (w, h, left, bottom) = (780.0, 240.0, 90.0, 40.0);
    let max = daily.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let n = daily.len().max(1) as f64;
    let slot = (w - left - 10.0) / n;
    let mut s =
        format!(r#"<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#);
    let plot_h = h - bottom - 10.0;
    for frac in [0.0, 0.5, 1.0] {
        let y = 10.0 + plot_h * (1.0 - frac);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y}" x2="{w}" y2="{y}" stroke="#ddd"/><text x="{tx}" y="{ty}" font-size="11" text-anchor="end" fill="#666">{label}</text>"##,
            tx = left - 6.0,
            ty = y + 4.0,
            label = rupiah((max * frac) as u64)
        );
    }
    let every = (daily.len() / 8).max(1);
    for (i, (date, v)) in daily.iter().enumerate() {
        let bh = plot_h * (*v as f64) / max;
        let x = left + slot * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="#6a1b9a"><title>{date}: {amount}</title></rect>"##,
            y = 10.0 + plot_h - bh,
            bw = (slot * 0.8).max(1.0),
            amount = rupiah((*v).max(0) as u64),
        );
        if i % every == 0 {
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{ty}" font-size="10" fill="#666">{date}</text>"##,
                ty = h - bottom + 16.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn table(rows: &[ScoreRow], with_service: bool) -> String {
    let mut s = String::from("<table><thead><tr>");
    let mut head = vec![l("Peringkat", "Rank"), l("Kantor", "Office")];
    if with_service {
        head.push(l("Layanan", "Service"));
    }
    head.extend([
        l("Transaksi", "Transactions"),
        l("Selesai", "Completed"),
        l("Kepatuhan SLA", "SLA compliance"),
        l("Median hari kerja", "Median working days"),
        l("P90 hari kerja", "P90 working days"),
        l("Tidak wajar", "Irregular"),
        l("Dibayar di atas tarif", "Paid above tariff"),
        l("Peringatan", "Alerts"),
        l("Skor", "Score"),
    ]);
    for h in head {
        let _ = write!(s, "<th>{h}</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        let alerts: Vec<String> = r
            .alerts
            .iter()
            .map(|(t, n)| format!("{}&nbsp;{n}", esc(t)))
            .collect();
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", r.rank, esc(&r.office_id));
        if with_service {
            let _ = write!(s, "<td>{}</td>", esc(&r.service_code));
        }
        let _ = write!(
            s,
            r#"<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="small">{}</td><td class="n">{}</td></tr>"#,
            r.transactions,
            r.completed,
            opt(r.sla_compliance_pct, "%"),
            opt(r.median_working_days, ""),
            opt(r.p90_working_days, ""),
            opt(r.irregular_share_pct, "%"),
            rupiah(r.excess_fee_idr.max(0) as u64),
            if alerts.is_empty() {
                "–".into()
            } else {
                alerts.join("<br>")
            },
            opt(r.score, ""),
        );
    }
    s.push_str("</tbody></table>");
    s
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#222}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;font-size:13px;margin-top:8px}\
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}th{background:#f3f0f7;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}td.small{font-size:11px}\
.note{color:#555;font-size:12px;max-width:900px}\
body.lang-id .en{display:none}body.lang-en .id{display:none}\
button{margin-left:12px;font-size:12px}svg.chart{max-width:100%;height:auto;display:block;margin-top:8px}";

const SCRIPT: &str = "(function(){var b=document.body,t=document.getElementById('lang');\
t.addEventListener('click',function(){var en=b.classList.contains('lang-id');\
b.classList.toggle('lang-id',!en);b.classList.toggle('lang-en',en);\
document.documentElement.lang=en?'en':'id';});b.setAttribute('data-ready','1');})();";

pub fn render(card: &Scorecard) -> String {
    let total_tx: u64 = card.offices.iter().map(|r| r.transactions).sum();
    let total_excess: i64 = card.offices.iter().map(|r| r.excess_fee_idr).sum();
    let total_alerts: u64 = card.offices.iter().map(|r| r.alerts_total).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>pantau scorecard {from} – {to}</title><style>{STYLE}</style></head><body class="lang-id">"#,
        from = card.from,
        to = card.to
    );
    let _ = write!(
        s,
        r#"<h1>{} {} – {}<button id="lang" type="button">English / Bahasa Indonesia</button></h1>"#,
        l("Rapor kinerja layanan publik", "Public service scorecard"),
        card.from,
        card.to
    );
    let _ = write!(
        s,
        r#"<p class="note">{} {} · {} {} · {} {}</p>"#,
        l("Transaksi:", "Transactions:"),
        total_tx,
        l("Dibayar di atas tarif:", "Paid above tariff:"),
        rupiah(total_excess.max(0) as u64),
        l("Peringatan:", "Alerts:"),
        total_alerts
    );
    let _ = write!(
        s,
        "<h2>{}</h2>{}",
        l("Kepatuhan SLA per kantor", "SLA compliance by office"),
        compliance_chart(&card.offices)
    );
    let _ = write!(
        s,
        "<h2>{}</h2>{}",
        l(
            "Pembayaran di atas tarif per hari",
            "Rupiah paid above tariff per day"
        ),
        excess_chart(&card.daily_excess_fee_idr)
    );
    let _ = write!(
        s,
        "<h2>{}</h2>{}",
        l("Peringkat kantor", "Office ranking"),
        table(&card.offices, false)
    );
    let _ = write!(
        s,
        "<h2>{}</h2>{}",
        l("Per kantor dan layanan", "By office and service"),
        table(&card.rows, true)
    );
    let _ = write!(
        s,
        r#"<p class="note">{}</p>"#,
        l(
            "Skor = rata-rata kepatuhan SLA (%) dan persentase transaksi yang wajar; peringkat 1 = terbaik. Hari kerja dihitung di zona waktu kantor, tanpa hari libur nasional dan cuti bersama. Definisi lengkap: docs/history.md.",
            "Score = the mean of SLA compliance (%) and the share of regular transactions; rank 1 = best. Working days are counted in the office's time zone, without national holidays and cuti bersama. Full definitions: docs/history.md."
        )
    );
    let _ = writeln!(s, "<script>{SCRIPT}</script></body></html>");
    s
}
