//! Realistic articles for the digest's look: titles, summaries and bodies of the length a
//! national news site writes, made from a real story (tests/fixtures/seed-article.txt).

/// The seed story: a title line, then paragraphs.
const SEED: &str = include_str!("../fixtures/seed-article.txt");

/// Headlines of the length the site writes (60 to 110 characters).
const HEADLINES: &[&str] = &[
    "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit",
    "Almaty Metro Extension Opens to “Record” Crowds on Kalkaman Line",
    "Guterres’s Visit: What to Expect in Astana as the SCO Summit Nears",
    "UN Regional Center for Sustainable Development to Open in Almaty",
    "Tokayev Signs Law on Mass Media: What Changes for Journalists",
    "Kazakhstan’s Oil & Gas Output Rises for the Third Month in a Row",
    "Steppe Eagles Return to the Korgalzhyn Reserve After a Mild Winter",
    "Abai Region Schools Join UNICEF Programme for Children with Special Needs",
    "Astana Opera Season Begins with a New Production of “Abai”",
    "Madina Dzharbusynova Elected to the UN Committee on Women’s Rights",
];

/// `n` articles as `POST /api/articles` takes them, each different (title, link,
/// summary, author and date), newest first as a site publishes them.
pub fn articles(n: usize) -> Vec<serde_json::Value> {
    let mut paragraphs = SEED.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    let _title = paragraphs.next();
    let paragraphs: Vec<&str> = paragraphs.collect();
    let authors = [
        "Aigerim Seisembayeva",
        "Dana Omirgazy",
        "Assel Satubaldina",
        "Zhanna Shayakhmetova",
    ];
    (0..n)
        .map(|i| {
            let headline = HEADLINES[i % HEADLINES.len()];
            let title = if i < HEADLINES.len() {
                headline.to_owned()
            } else {
                format!("{headline}, Part {}", i / HEADLINES.len() + 1)
            };
            let slug: String = title
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .split('-')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let lead = paragraphs[i % paragraphs.len()];
            let body: String = paragraphs
                .iter()
                .map(|p| format!("<p>{}</p>", p.replace('&', "&amp;").replace('<', "&lt;")))
                .collect();
            // One story a quarter of an hour, the first the newest.
            let newest =
                chrono::DateTime::parse_from_rfc3339("2026-11-29T23:45:00Z").expect("a time");
            let published = newest - chrono::Duration::minutes(15 * i64::try_from(i).unwrap());
            serde_json::json!({
                "title": title,
                "url": format!("https://astanatimes.example/2026/11/{slug}/"),
                "summary": lead,
                "body": body,
                "author": authors[i % authors.len()],
                "published_at": published.to_rfc3339(),
            })
        })
        .collect()
}
